"""The Kubernetes API, without mesh knowledge: any kind (core, Istio, Gateway API) is an
object with a reference, applied server-side, read, waited for and deleted the same way.

    objects   Manifest, ObjectRef and its constructors, load_manifests, the apply order
    heads     each manifest's apiVersion/kind/name read from the YAML events (a bundle's CRDs)
    status    reading status: conditions, readiness predicates, describe_* texts, events
    errors    KubeError (a HarnessError) and its tree: ManifestError, ApplyError, WaitTimeout
    api       KubeApi: the connection (one ApiClient, discovery) and CRUD
    wait      KubeWaits: polling waits and awaited deletes
    apply     KubeApply: server-side apply and the whole-step dryRun=All preflight
    client    Kube: the client callers use (all of the above)

Nothing here knows Istio or the Gateway API beyond their kinds' names in the apply order.
`kubernetes` itself is imported only where a call needs it (start-up cost: see api.py).
"""
