"""MLflow's AI gateway on the server container: on or off, the passphrase its stored secrets are
encrypted with, and where it may send requests (SSRF limits, written out explicitly).

MLflow 3.17 encrypts every provider API key users store in the gateway with a data key, itself wrapped by a
key derived from ``MLFLOW_CRYPTO_KEK_PASSPHRASE`` and ``MLFLOW_CRYPTO_KEK_VERSION`` (``mlflow/utils/crypto.py``);
without a passphrase, MLflow falls back to a constant published in its source. The server reads it from the
environment's Secret; with the oidc plugin's cloud providers (no Secret), the plugin's providers deliver it
like the plugin's own settings (``server/launcher.py``). The server's gate reads it too, to start only once
the passphrase unwraps every stored key (``schema_scripts/kek.py``), and while ``rotate_kek`` is on the
migration Job reads the previous one and re-wraps them (``mlflow crypto rotate-kek``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cdk8s_plus_27 import k8s

from mlflow_constructs.config.server import AiGateway
from mlflow_constructs.k8s.pods import env_values
from mlflow_constructs.secrets.source import SecretSource

PASSPHRASE = "MLFLOW_CRYPTO_KEK_PASSPHRASE"
VERSION = "MLFLOW_CRYPTO_KEK_VERSION"
PREVIOUS = "PREVIOUS_KEK_PASSPHRASE"  # the migration Job's old passphrase while rotating (schema_scripts/kek.py)
ENABLED = "MLFLOW_ENABLE_AI_GATEWAY"
PASSPHRASE_KEY = "kek_passphrase"
PREVIOUS_KEY = "previous_kek_passphrase"


@dataclass(frozen=True)
class AiGatewayAccess:
    """What the gateway adds to the server container: ``settings`` (its ConfigMap), ``env`` (the
    passphrase from the Secret) and the logical Secret keys read; ``check_env`` for the gate (the passphrase
    and its version), ``rotation_env`` for the migration Job while rotating (those and the previous one)."""

    settings: dict[str, str] = field(default_factory=dict)
    env: tuple[k8s.EnvVar, ...] = ()
    secret_keys: tuple[str, ...] = ()
    check_env: tuple[k8s.EnvVar, ...] = ()
    rotation_env: tuple[k8s.EnvVar, ...] = ()


def ai_gateway_access(config: AiGateway, secrets: SecretSource) -> AiGatewayAccess:
    """The gateway's settings and passphrase for ``config``."""
    if not config.enabled:
        return AiGatewayAccess(settings={ENABLED: "false"})
    settings = {
        ENABLED: "true",
        VERSION: str(config.kek_version),
        "MLFLOW_GATEWAY_API_BASE_ALLOWED_SCHEMES": ",".join(config.api_base.allowed_schemes),
        "MLFLOW_GATEWAY_API_BASE_ALLOW_PRIVATE_IPS": str(config.api_base.allow_private_addresses).lower(),
    }
    if config.allowed_providers:
        settings["MLFLOW_GATEWAY_ALLOWED_PROVIDERS"] = ",".join(config.allowed_providers)
    if secrets.config.cloud:  # the plugin's store holds it, as an entry named PASSPHRASE
        return AiGatewayAccess(settings=settings)
    passphrase = secrets.env(PASSPHRASE, PASSPHRASE_KEY)
    check = (passphrase, *env_values({VERSION: str(config.kek_version)}))
    if not config.rotate_kek:
        return AiGatewayAccess(settings=settings, env=(passphrase,), secret_keys=(PASSPHRASE_KEY,), check_env=check)
    return AiGatewayAccess(
        settings=settings,
        env=(passphrase,),
        secret_keys=(PASSPHRASE_KEY, PREVIOUS_KEY),
        check_env=check,
        rotation_env=(*check, secrets.env(PREVIOUS, PREVIOUS_KEY), *env_values({"ROTATE_KEK": "true"})),
    )
