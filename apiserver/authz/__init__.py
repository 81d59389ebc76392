"""Authorization: may this user do this verb on this resource (RBAC, the Node authorizer), as Kubernetes decides."""
