"""k3s machine bootstrap: cloud-init user-data, meta-data and network-config per node."""

from __future__ import annotations

import ipaddress
from typing import Any

from .. import catalog
from ..plan.model import ClusterPlan, NodePlan
from .files import RenderedFile
from .templates import render_template
from .yamltext import to_yaml

PACKAGED_COMPONENTS = ["coredns", "local-storage", "metrics-server", "servicelb", "traefik"]


def packaged_components(plan: ClusterPlan) -> list[str]:
    """The k3s packaged components left running (validation models what they provide)."""
    return [c for c in PACKAGED_COMPONENTS if c not in plan.k3s_disable]
KUBELET_DROPIN_DIR = "/etc/rancher/k3s/kubelet.conf.d"
# cloud-init's /etc/hosts template for the Debian family (Ubuntu, Debian, Raspberry Pi OS).
ETC_HOSTS_TEMPLATE = "/etc/cloud/templates/hosts.debian.tmpl"
# Services a Raspberry Pi cannot spare memory or SD writes for.
PI_DISABLED_SERVICES = ["snapd.service", "snapd.socket", "ModemManager.service", "unattended-upgrades.service", "multipathd.service", "multipathd.socket", "bluetooth.service"]
# Where the kernel command line lives: Ubuntu, Debian's Pi images and Raspberry
# Pi OS (bookworm and later) use /boot/firmware; older Raspberry Pi OS /boot.
PI_CMDLINE = {"ubuntu": "/boot/firmware/cmdline.txt", "debian": "/boot/firmware/cmdline.txt", "raspios": "/boot/firmware/cmdline.txt"}


def _join(values: Any) -> str:
    return ",".join(str(v) for v in values)


def shared_server_config(plan: ClusterPlan) -> dict[str, Any]:
    """Flags that must be identical on every server, or k3s refuses to join it."""
    net = plan.settings.network
    service_net = net.service_cidrs[0]
    return {
        "cluster-cidr": _join(net.pod_cidrs),
        "service-cidr": _join(net.service_cidrs),
        "cluster-dns": str(service_net[10]),
        "cluster-domain": "cluster.local",
        "disable": list(plan.k3s_disable),
        "secrets-encryption": True,
        "flannel-backend": "vxlan",
    }


def k3s_config(plan: ClusterPlan, node: NodePlan, token: str) -> dict[str, Any]:
    settings = plan.settings
    config: dict[str, Any] = {"token": token, "node-name": node.name, "node-ip": _join(node.addresses)}
    several_servers = len(plan.servers) > 1
    if node.is_server:
        if node.first_server and several_servers:
            config["cluster-init"] = True
        elif not node.first_server:
            config["server"] = f"https://{_host(plan.api_endpoint)}:6443"
        sans = [str(plan.api_endpoint), f"api.{settings.domain}"]
        config["tls-san"] = sorted(set(sans), key=sans.index)
        config["write-kubeconfig-mode"] = "0600"
        config.update(shared_server_config(plan))
    else:
        config["server"] = f"https://{_host(plan.api_endpoint)}:6443"
    if node.swap_mib:
        config["kubelet-arg"] = [f"config-dir={KUBELET_DROPIN_DIR}"]
    if node.node_labels:
        config["node-label"] = [f"{k}={v}" for k, v in node.node_labels.items()]
    if node.taints:
        config["node-taint"] = [f"{t.key}={t.value or ''}:{t.effect}" for t in node.taints]
    return config


def _host(address: Any) -> str:
    return f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)


def _extra_files(plan: ClusterPlan, node: NodePlan) -> list[dict[str, str]]:
    extra: list[dict[str, Any]] = []
    if node.swap_mib:
        extra.append(
            {
                "path": f"{KUBELET_DROPIN_DIR}/50-swap.conf",
                "permissions": "0644",
                # failSwapOn: false alone only lets the kubelet start; pods use
                # swap only with a swapBehavior of LimitedSwap.
                "content": "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfailSwapOn: false\nmemorySwap:\n  swapBehavior: LimitedSwap",
            }
        )
    if node.volatile_logs:
        extra.append(
            {
                "path": "/etc/systemd/journald.conf.d/50-volatile.conf",
                "permissions": "0644",
                "content": "# Logs stay in RAM: the boot medium wears out under constant journal writes.\n[Journal]\nStorage=volatile\nRuntimeMaxUse=64M",
            }
        )
    extra.extend(nvidia_files(node))
    settings = plan.settings
    if node.kernel_modules:
        extra.append(
            {
                "path": "/etc/modules-load.d/clustergen.conf",
                "permissions": "0644",
                "content": "# Kernel modules listed in the inventory, loaded at every boot.\n" + "\n".join(node.kernel_modules),
            }
        )
    registries = plan.node_registries
    if registries is not None and registries.mirrors:
        config: dict[str, Any] = {"mirrors": {registry: {"endpoint": list(urls)} for registry, urls in registries.mirrors}}
        if registries.skip_verify:
            config["configs"] = {host: {"tls": {"insecure_skip_verify": True}} for host in registries.skip_verify}
        extra.append(
            {
                "path": "/etc/rancher/k3s/registries.yaml",
                "permissions": "0644",
                # containerd tries the mirrors in order and falls back to the registry itself.
                "content": to_yaml(config).rstrip("\n"),
            }
        )
    if registries is not None and registries.host_entries:
        extra.append(
            {
                # manage_etc_hosts re-renders /etc/hosts from this template at every boot, so
                # the entries go into the template (cloud-init's own advice in the file);
                # write_files runs before update_etc_hosts, so the first boot has them too.
                "path": ETC_HOSTS_TEMPLATE,
                "permissions": "0644",
                "append": True,
                "content": "# Private registries (clustergen, network.registries)\n"
                + "\n".join(f"{address} {' '.join(names)}" for address, names in registries.host_entries),
            }
        )
    vip = settings.network.control_plane_endpoint
    services_by_kube_vip = settings.load_balancer == "kube-vip"
    if node.is_server and (vip is not None or services_by_kube_vip):
        extra.append(
            {
                "path": "/var/lib/rancher/k3s/server/manifests/kube-vip.yaml",
                "permissions": "0600",
                "content": render_template(
                    "bootstrap/k3s/kube-vip.yaml.j2",
                    vip=str(vip or node.address),
                    image=catalog.component("kube-vip")["image"],
                    services="true" if services_by_kube_vip else "false",
                ).rstrip("\n"),
            }
        )
    return extra


def render_cloud_init(plan: ClusterPlan, token: str) -> list[RenderedFile]:
    settings = plan.settings
    version = plan.distribution_version
    script = f"https://raw.githubusercontent.com/k3s-io/k3s/{version.replace('+', '%2B')}/install.sh"
    files = []
    for node in plan.nodes:
        folder = f"bootstrap/cloud-init/{node.name}"
        prefix_len = {n.version: n.prefixlen for n in settings.network.node_cidrs}
        user_data = render_template(
            "bootstrap/cloud-init/user-data.j2",
            node={"name": node.name, "role_text": "server" if node.is_server else "agent"},
            swap_bytes=node.swap_mib * 1024 * 1024,
            data_disk=node.data_disk,
            boot_medium=node.boot_medium,
            mounts=_mounts(plan, node),
            prepare=_prepare_commands(plan, node),
            reboot=node.reboots_after_setup,
            reboot_reasons=_reboot_reasons(node),
            cluster_name=settings.cluster_name,
            domain=settings.domain,
            timezone=settings.timezone,
            packages=_packages(plan, node),
            k3s_config=k3s_config(plan, node, token),
            extra_files=_extra_files(plan, node),
            apt_sources=apt_sources(node),
            k3s_version=version,
            install_script_url=script,
            exec="server" if node.is_server else "agent",
        )
        files.append(RenderedFile.text(f"{folder}/user-data", user_data, secret=True))
        files.append(
            RenderedFile.text(
                f"{folder}/meta-data",
                render_template("bootstrap/cloud-init/meta-data.j2", instance_id=f"{settings.cluster_name}-{node.name}", node_name=node.name),
            )
        )
        files.append(
            RenderedFile.text(
                f"{folder}/network-config",
                render_template(
                    "bootstrap/cloud-init/network-config.j2",
                    mac=node.mac,
                    addresses=[f"{a}/{prefix_len[a.version]}" for a in node.addresses],
                    routes=default_routes(settings.network.gateways),
                    dns_servers=[str(s) for s in settings.network.dns_servers],
                    domain=settings.domain,
                ),
            )
        )
    return files


def _reboot_reasons(node: NodePlan) -> list[str]:
    reasons = []
    if node.raspberry_pi:
        reasons.append("the new kernel command line (memory cgroup) takes effect")
    if node.nvidia_driver is not None:
        reasons.append(f"the NVIDIA {node.nvidia_driver.branch} driver's module loads instead of nouveau")
    return reasons


def default_routes(gateways: Any) -> list[dict[str, str]]:
    """One default route per gateway, spelled 0.0.0.0/0 or ::/0.

    Not ``to: default``: netplan accepts it, but cloud-init's ENI renderer
    (Debian, Raspberry Pi OS) rejects it as "not a valid ip address".
    """
    return [{"to": "0.0.0.0/0" if g.version == 4 else "::/0", "via": str(g)} for g in gateways]


def _packages(plan: ClusterPlan, node: NodePlan) -> list[str]:
    # NFS client lets pods mount a NAS; cheap and often wanted in a homelab.
    packages = {"ca-certificates", "curl", "nfs-common"}
    packages.update(plan.storage.node_packages)  # the storage backend's (open-iscsi for Longhorn)
    if node.storage_disks:
        packages.update(plan.storage.disk_node_packages)  # on the nodes holding its disks (lvm2 for Rook)
    if node.raspberry_pi and node.os == "ubuntu":
        packages.add("linux-modules-extra-raspi")  # VXLAN for flannel is not in the base Pi kernel package
    if node.nvidia_driver is not None:
        packages.add("gpg")  # dearmors the container toolkit's signing key
    return sorted(packages)


def _mounts(plan: ClusterPlan, node: NodePlan) -> list[list[str]]:
    mounts = []
    if node.data_disk is not None:
        mounts.append(["LABEL=k3s-data", "/var/lib/rancher", "ext4", "defaults,noatime,nofail", "0", "2"])
    if node.storage_disks and plan.storage.disk_mount:
        # Formatted by hand (README: "Disks to prepare"); nofail keeps boot working before that.
        mounts.append(list(plan.storage.disk_mount))
    return mounts


def _prepare_commands(plan: ClusterPlan, node: NodePlan) -> list[str]:
    commands = []
    if node.raspberry_pi:
        cmdline = PI_CMDLINE.get(node.os, "/boot/firmware/cmdline.txt")
        # k3s needs the memory cgroup, which Raspberry Pi kernels leave off.
        commands.append(
            f"f={cmdline}; [ -f $f ] || f=/boot/cmdline.txt; grep -q 'cgroup_memory=1' $f || sed -i '1 s/$/ cgroup_memory=1 cgroup_enable=memory/' $f"
        )
        commands.append("systemctl disable --now " + " ".join(PI_DISABLED_SERVICES) + " || true")
    if node.volatile_logs:
        commands.append("systemctl restart systemd-journald")
    if node.nvidia_driver is not None:
        commands.extend(nvidia_commands(node))
    return commands


NOUVEAU_BLACKLIST = "/etc/modprobe.d/clustergen-nouveau.conf"
DEBIAN_NONFREE_SOURCES = "clustergen-nonfree.list"  # under /etc/apt/sources.list.d, written by cloud-init's apt module


def nvidia_commands(node: NodePlan) -> list[str]:
    """The node's NVIDIA driver branch (the plan chose it) and the container toolkit, before k3s
    is installed: k3s adds its nvidia runtime only if nvidia-container-runtime exists when it
    starts, and it starts after the reboot, with the driver's module loaded instead of nouveau."""
    driver = node.nvidia_driver
    assert driver is not None
    # DKMS builds the module for the running kernel, so its headers come first.
    commands = [
        ("apt-get update && " if driver.apt_source else "")
        + "DEBIAN_FRONTEND=noninteractive apt-get install -y linux-headers-$(uname -r) "
        + " ".join(driver.packages),
        "update-initramfs -u",  # the nouveau blacklist takes effect at the next boot
        "curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey | gpg --dearmor -o /usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
        " && curl -fsSL https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list"
        " | sed 's#deb https://#deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://#' > /etc/apt/sources.list.d/nvidia-container-toolkit.list"
        " && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nvidia-container-toolkit",
    ]
    return commands


def nvidia_files(node: NodePlan) -> list[dict[str, str]]:
    if node.nvidia_driver is None:
        return []
    return [
        {
            "path": NOUVEAU_BLACKLIST,
            "permissions": "0644",
            "content": f"# The NVIDIA {node.nvidia_driver.branch} driver needs the GPU; nouveau must not take it first.\nblacklist nouveau\noptions nouveau modeset=0",
        }
    ]


def apt_sources(node: NodePlan) -> dict[str, str]:
    """Extra apt sources (file name -> lines) for cloud-init's apt module, which expands $MIRROR."""
    driver = node.nvidia_driver
    return {DEBIAN_NONFREE_SOURCES: driver.apt_source} if driver is not None and driver.apt_source else {}
