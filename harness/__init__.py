"""ambient-harness: declarative scenarios for Istio ambient and sidecar mesh behaviour."""

__version__ = "0.1.0"
