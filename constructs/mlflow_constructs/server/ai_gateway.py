"""MLflow's AI gateway on the server container: on or off, the passphrase its stored secrets are
encrypted with, and where it may send requests (SSRF limits, written out explicitly).

MLflow 3.17 encrypts every provider API key users store in the gateway with a data key, itself wrapped by a
key derived from ``MLFLOW_CRYPTO_KEK_PASSPHRASE`` (``mlflow/utils/crypto.py``); without it, MLflow falls back
to a constant published in its source. The server reads it from the environment's Secret; with the oidc
plugin's cloud providers (no Secret), the plugin's providers deliver it like the plugin's own settings
(``server/launcher.py``). Nothing else decrypts those secrets: the schema migrations only create their
tables, so the migration Job and the server's gate never read the passphrase.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cdk8s_plus_27 import k8s

from mlflow_constructs.config.server import AiGateway
from mlflow_constructs.secrets.source import SecretSource

PASSPHRASE = "MLFLOW_CRYPTO_KEK_PASSPHRASE"
ENABLED = "MLFLOW_ENABLE_AI_GATEWAY"
PASSPHRASE_KEY = "kek_passphrase"


@dataclass(frozen=True)
class AiGatewayAccess:
    """What the gateway adds to the server container: ``settings`` (its ConfigMap), ``env`` (the
    passphrase from the Secret) and the logical Secret keys read."""

    settings: dict[str, str] = field(default_factory=dict)
    env: tuple[k8s.EnvVar, ...] = ()
    secret_keys: tuple[str, ...] = ()


def ai_gateway_access(config: AiGateway, secrets: SecretSource) -> AiGatewayAccess:
    """The gateway's settings and passphrase for ``config``."""
    if not config.enabled:
        return AiGatewayAccess(settings={ENABLED: "false"})
    settings = {
        ENABLED: "true",
        "MLFLOW_GATEWAY_API_BASE_ALLOWED_SCHEMES": ",".join(config.api_base.allowed_schemes),
        "MLFLOW_GATEWAY_API_BASE_ALLOW_PRIVATE_IPS": str(config.api_base.allow_private_addresses).lower(),
    }
    if config.allowed_providers:
        settings["MLFLOW_GATEWAY_ALLOWED_PROVIDERS"] = ",".join(config.allowed_providers)
    if secrets.config.cloud:  # the plugin's store holds it, as an entry named PASSPHRASE
        return AiGatewayAccess(settings=settings)
    return AiGatewayAccess(
        settings=settings, env=(secrets.env(PASSPHRASE, PASSPHRASE_KEY),), secret_keys=(PASSPHRASE_KEY,)
    )
