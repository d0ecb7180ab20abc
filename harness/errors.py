"""The harness's exceptions: one root, so the CLI and the pytest plugin catch what the harness
raises on purpose and let anything else (a bug) show its traceback.

Each package defines its own errors beside its code and derives them from `HarnessError`;
the tree (checked against the code by tests/test_errors.py):

    HarnessError
      SourceError            model.source     a scenario or manifest file is malformed
                                              (file:line: field: message, every problem)
      LintFailed             lint             a scenario failed lint: nothing of it runs
      CrdSchemaError         lint.crds        the CRD schemas cannot be used
        CrdSchemasMissing    lint.crds          a pinned bundle is not there
        CrdFileError         lint.crds          a bundle is damaged (checksum, YAML)
      KubeError              kube.errors      the Kubernetes API refused or timed out
        ManifestError        kube.errors        an object cannot be sent as it is
        ApplyError           kube.errors        the API server rejected objects
        WaitTimeout          kube.errors        an object never reached its condition
        IstioInstallError    mesh.istio         istioctl failed or Istio is not ready
        EnrollmentError      mesh.enrollment    pods are not in the mesh as declared
        RedirectionError     mesh.enrollment    ambient redirection is not in place
      ClusterError           host.cluster     no cluster to run on
        DockerUnavailable    host.docker        kind needs a Docker engine
        ClusterOptionError   host.providers     contradicting cluster options
      DoctorFailed           host.doctor      the host or cluster cannot run the mesh
      DownloadError          host.download    a pinned download failed verification
        InsecureURL, ChecksumMismatch, SizeLimitExceeded, TruncatedDownload
      ToolError              host.tools       kind, kubectl or istioctl unusable
        ToolUnavailable      host.tools         not on PATH and cannot be fetched
      ImageError             host.images      an image could not be pulled or loaded
      UnsupportedPlatform    host.versions    no pinned binary for this OS/CPU
      PortForwardError       host.portforward kubectl port-forward failed for good
      AgentError             probe.prober     the probe could not run (never an outcome)
        AgentUnreachable     probe.prober       the agent did not answer
        AgentLate            probe.prober       the agent answered after the deadline
        AgentBusy            probe.prober       the agent refused: too many connections
      BackendRestarting      probe.backends   a denial seen while a backend was not Ready
      ReportError            report.document  a JSON report cannot be read
      RunError               run.errors       a run cannot start or go on
        NoClusterChosen, NoScenarioFound, SessionSetupFailed
      DemoError              cli.demo         the demo's input is wrong
      ScenarioFailed         pytest_plugin    a scenario item failed (the failure text)
      ScenarioRejected       pytest_plugin    a scenario item may not run (lint, features)
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises on purpose (never a bug)."""
