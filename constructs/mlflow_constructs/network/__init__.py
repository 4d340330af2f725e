"""Traffic: routes from outside (Ingress, Traefik IngressRoute) and the NetworkPolicies inside."""
