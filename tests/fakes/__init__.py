"""Stand-ins for the API server and kubectl, and real-Envoy fixtures, shared by the tests."""
