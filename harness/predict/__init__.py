"""The mental model, executable: from a scenario's topology and the manifests applied up to
each step, predict what every probe will see and which component decides it
(docs/mental-model.md is the rule table in words).

    world      the cluster at one step (topology + applied manifests)
    authz      AuthorizationPolicy / PeerAuthentication at ztunnel, sidecar and waypoint
    routes     HTTPRoute, TCPRoute, VirtualService/DestinationRule
    path       the probe path, hop by hop, and the merged Prediction
    agreement  expectations against predictions; `contradictions` for lint
    explain    the text and JSON of `ambient-harness explain`
"""

from harness.predict.agreement import (
    Predicted,
    contradictions,
    disagreements,
    predict_scenario,
    probe_disagreements,
)
from harness.predict.prediction import Decision, Prediction

__all__ = [
    "Decision",
    "Predicted",
    "Prediction",
    "contradictions",
    "disagreements",
    "predict_scenario",
    "probe_disagreements",
]
