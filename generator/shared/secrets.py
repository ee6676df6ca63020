"""The secrets a cluster is generated with: made once by write/, read by render/."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClusterSecrets:
    """Generated once per cluster, stored SOPS-encrypted; a distribution uses its own fields."""

    k3s_token: str | None = None
    talos_secrets: str | None = None  # talosctl's secrets bundle (secrets.yaml), as YAML text
    talos_admin_client: str | None = None  # the talosconfig's os:admin client certificate and key
    grafana_admin_password: str | None = None  # monitoring: Grafana's admin login
    restic_password: str | None = None  # backups: every namespace's restic repository (losing it loses the backups)
    # Backups: the S3 keys. The user puts them into the store (README); clustergen never makes them up.
    backup_s3_access_key_id: str | None = None
    backup_s3_secret_access_key: str | None = None
    # Private registries: a Docker config JSON ({"auths": {"host:port": {"auth": ...}}}) the user
    # puts into the store; apps with pullSecret get it as a dockerconfigjson Secret. Never made up.
    registry_auths: str | None = None
    # Logins between apps (the MQTT broker's clients, each app's database owner, values an app
    # needs generated), by store key (mqtt/<app>, postgres/<app>, app/<app>/<ENV>): made once
    # when an app first needs one, never rotated.
    app_passwords: dict[str, str] = field(default_factory=dict)
    # DNS: the provider's credentials (plan.dns store_field: Secret key token → dns_token), put
    # into the store by the user when clustergen commits the external-dns Secret.
    dns_api_token: str | None = None
    dns_token: str | None = None
    dns_access_key_id: str | None = None
    dns_secret_access_key: str | None = None
    dns_tsig_secret: str | None = None
    dns_password: str | None = None
    dns_application_key: str | None = None
    dns_application_secret: str | None = None
    dns_consumer_key: str | None = None
