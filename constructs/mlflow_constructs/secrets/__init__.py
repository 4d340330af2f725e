"""Where secret values come from: the Secret's references, its providers, the oidc plugin's delivery."""
