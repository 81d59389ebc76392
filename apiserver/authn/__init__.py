"""Authentication: who sent a request (client certificates, tokens), as Kubernetes' authenticator chain."""
