#!/usr/bin/env python3
"""clustergen probe: print this machine's inventory entry as YAML.

Run it on a new machine (as root or not) and paste the output under
``nodes:`` in the inventory:

    python3 probe.py                 # reads /proc, /sys, /dev of this machine
    python3 probe.py --name kitchen  # choose the node name
    python3 probe.py --root /mnt/x   # read a copied or fake tree instead

The script uses only the Python standard library and nothing else from
clustergen, so it runs on a machine that has nothing but python3 (the
generated repository carries a copy as bootstrap/probe.py).  It reads
everything below --root; the optional helpers ``lspci -nn`` and
``ip -j addr`` are run only when --root is / and can be replaced by files
(--lspci-output, --ip-json, or the CLUSTERGEN_PROBE_LSPCI and
CLUSTERGEN_PROBE_IP_JSON environment variables).

Everything it prints is a guess from what the kernel reports; review it,
especially the disks' ``use:`` (``storage`` hands a disk to Ceph/Longhorn,
which wipe it).
"""

# Keep this file importable and runnable on old distributions: Python 3.7
# grammar, standard library only, no imports from the generator package.
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys

VERSION = 1

ENV_LSPCI = "CLUSTERGEN_PROBE_LSPCI"
ENV_IP_JSON = "CLUSTERGEN_PROBE_IP_JSON"

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

# Block devices that are not disks one could put in the inventory.
_SKIP_BLOCK = re.compile(r"^(loop|ram|zram|dm-|md|sr|fd|nbd|nullb|zd|rbd|drbd|ubiblock|mtdblock)\d*|^mmcblk\d+(boot\d+|rpmb)$")

# /dev/disk/by-id prefixes, most readable (model + serial) first.
_BY_ID_RANK = (
    "nvme-",
    "ata-",
    "usb-",
    "mmc-",
    "scsi-SATA_",
    "scsi-0ATA_",
    "scsi-1ATA_",
    "virtio-",
    "scsi-",
    "ieee1394-",
    "memstick-",
)

_ZWAVE = re.compile(r"z[-_ ]?wave|aeotec|zooz|zst\d|uzb|0658_0200")
_ZIGBEE = re.compile(r"zigbee|conbee|raspbee|skyconnect|zbt-1|zbdongle|cc2652|cc2531|cc1352|cc2538|efr32|slzb")

_VM_VENDORS = ("qemu", "vmware", "innotek", "xen", "parallels", "bochs", "nutanix")
_VM_PRODUCTS = ("kvm", "virtualbox", "vmware", "virtual machine", "bhyve", "hvm domu", "cloud hypervisor")
# SMBIOS chassis types: 8 portable, 9 laptop, 10 notebook, 14 sub notebook,
# 31 convertible, 32 detachable; 35 mini PC, 36 stick PC; 17 main server
# chassis, 23 rack mount, 25 multi-system, 28 blade.
_CHASSIS_LAPTOP = {8, 9, 10, 14, 31, 32}
_CHASSIS_MINI = {35, 36}
_CHASSIS_SERVER = {17, 23, 25, 28}

_GPU_VENDORS = {"10de": "nvidia", "8086": "intel", "1002": "amd"}
_GPU_CLASSES = ("0300", "0302", "0380")


# --------------------------------------------------------------------------
# Reading the tree


class Tree:
    """Files of the probed machine, below a root prefix."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.live = os.path.realpath(self.root) == "/"

    def path(self, p: str) -> str:
        return os.path.join(self.root, p.lstrip("/"))

    def read(self, p: str, default: str | None = None) -> str | None:
        try:
            with open(self.path(p), "rb") as fh:
                data = fh.read()
        except OSError:
            return default
        return data.decode("utf-8", "replace")

    def value(self, p: str, default: str | None = None) -> str | None:
        text = self.read(p)
        if text is None:
            return default
        return text.replace("\x00", "").strip()

    def exists(self, p: str) -> bool:
        return os.path.lexists(self.path(p))

    def isdir(self, p: str) -> bool:
        return os.path.isdir(self.path(p))

    def listdir(self, p: str) -> list:
        try:
            return sorted(os.listdir(self.path(p)))
        except OSError:
            return []

    def link_target(self, p: str) -> str | None:
        """The basename a symlink points at (by-id links are relative: ../../sda)."""
        try:
            return os.path.basename(os.readlink(self.path(p)).rstrip("/"))
        except OSError:
            return None

    def sys_path(self, p: str) -> str:
        """Where a /sys symlink leads, as a path inside the tree (/sys/devices/...)."""
        real, root = os.path.realpath(self.path(p)), os.path.realpath(self.root)
        return "/" + os.path.relpath(real, root) if real.startswith(root) else real


# --------------------------------------------------------------------------
# Small helpers


def dns_label(text: str, fallback: str = "node", limit: int = 63) -> str:
    label = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(label) > limit:
        label = label[:limit].rstrip("-")
    return label or fallback


def format_memory(mem_total_kib: int) -> str:
    """MemTotal (KiB) as the installed size people know (4Gi, not 3.70 GiB).

    MemTotal is the installed memory minus what firmware, the kernel and an
    integrated GPU keep, so it is rounded up to the nearest common module
    size when it is within 15% of it; otherwise (VMs with odd sizes) it is
    rounded up to a whole GiB, or to 256 MiB below 4 GiB.
    """
    mib = mem_total_kib / 1024.0
    if mib <= 0:
        return "0Mi"
    sizes = []
    for k in range(7, 25):  # 128Mi .. 16Ti
        sizes.append(2 ** k)
        sizes.append(3 * 2 ** (k - 1))
    for size in sorted(sizes):
        if size >= mib:
            if mib >= 0.85 * size:
                return _mib_quantity(size)
            break
    step = 1024 if mib >= 4096 else 256
    return _mib_quantity(int(-(-mib // step)) * step)


def _mib_quantity(mib: int) -> str:
    if mib % (1024 * 1024) == 0:
        return "%dTi" % (mib // (1024 * 1024))
    if mib % 1024 == 0:
        return "%dGi" % (mib // 1024)
    if mib > 1024 and (mib * 10) % 1024 == 0:
        return "%gGi" % (mib / 1024.0)
    return "%dMi" % mib


def format_disk_size(size_bytes: int) -> str:
    """A disk's size, rounded down: 931Gi for a 1 TB disk, 3.6Ti for 4 TB."""
    if size_bytes >= TIB:
        tenths = size_bytes * 10 // TIB
        return ("%dTi" % (tenths // 10)) if tenths % 10 == 0 else ("%d.%dTi" % (tenths // 10, tenths % 10))
    if size_bytes >= GIB:
        return "%dGi" % (size_bytes // GIB)
    return "%dMi" % max(1, size_bytes // MIB)


def _arch_from_machine(machine: str) -> str | None:
    m = machine.strip().lower()
    if m in ("x86_64", "amd64", "x64"):
        return "amd64"
    if m in ("aarch64", "arm64") or m.startswith(("armv8", "aarch64")):
        return "arm64"
    if m.startswith("arm"):
        return "arm"
    return None


def _cpuinfo_fields(text: str) -> dict:
    fields: dict = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    return fields


# --------------------------------------------------------------------------
# Facts


class Probe:
    def __init__(self, tree: Tree, machine: str | None, lspci_text: str | None, ip_json: str | None) -> None:
        self.tree = tree
        self.machine = machine
        self.lspci_text = lspci_text
        self.ip_json = ip_json
        self.warnings: list = []

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    # -- identity ----------------------------------------------------------

    def hostname(self) -> str:
        name = self.tree.value("/proc/sys/kernel/hostname") or self.tree.value("/etc/hostname") or ""
        if not name and self.tree.live:
            import socket

            name = socket.gethostname()
        return name

    def arch(self) -> tuple:
        """(arch, how): uname -m on the live machine, else /proc/cpuinfo."""
        machine = self.machine
        if machine is None and self.tree.live:
            machine = os.uname().machine
        if machine:
            return _arch_from_machine(machine), "uname -m: " + machine
        info = _cpuinfo_fields(self.tree.read("/proc/cpuinfo", "") or "")
        if "vendor_id" in info or "flags" in info:
            flags = info.get("flags", "").split()
            return ("amd64" if "lm" in flags else None), "/proc/cpuinfo: x86" + (" 64-bit" if "lm" in flags else " 32-bit")
        cpu_arch = info.get("cpu architecture", "")
        model = info.get("model name", "") or info.get("processor", "")
        if cpu_arch in ("8", "AArch64") or "asimd" in info.get("features", "").split():
            return "arm64", "/proc/cpuinfo: ARMv8"
        if cpu_arch.isdigit() or model.lower().startswith("armv"):
            return "arm", "/proc/cpuinfo: ARMv" + (cpu_arch or "?")
        return None, "unknown"

    def cpu_count(self) -> int | None:
        online = self.tree.value("/sys/devices/system/cpu/online")
        if online:
            count = 0
            try:
                for part in online.split(","):
                    lo, _, hi = part.partition("-")
                    count += (int(hi) - int(lo) + 1) if hi else 1
                if count > 0:
                    return count
            except ValueError:
                pass
        text = self.tree.read("/proc/cpuinfo", "") or ""
        count = len(re.findall(r"^processor\s*:", text, re.MULTILINE))
        if count:
            return count
        return os.cpu_count() if self.tree.live else None

    def mem_total_kib(self) -> int | None:
        text = self.tree.read("/proc/meminfo", "") or ""
        m = re.search(r"^MemTotal:\s*(\d+)\s*kB", text, re.MULTILINE)
        return int(m.group(1)) if m else None

    def os_id(self) -> tuple:
        text = self.tree.read("/etc/os-release") or self.tree.read("/usr/lib/os-release") or ""
        fields = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                fields[key.strip()] = value.strip().strip("\"'")
        ident = fields.get("ID", "").lower()
        pretty = fields.get("PRETTY_NAME", ident)
        if ident == "raspbian" or (ident == "debian" and self.tree.exists("/etc/rpi-issue")):
            return "raspios", pretty
        if ident in ("ubuntu", "debian"):
            return ident, pretty
        return None, pretty

    def profile(self) -> tuple:
        """(profile, why)."""
        model = self.tree.value("/proc/device-tree/model") or self.tree.value("/sys/firmware/devicetree/base/model") or ""
        if model.startswith("Raspberry Pi"):
            rest = model[len("Raspberry Pi"):]
            if re.match(r"\s*(5|500|Compute Module 5)\b", rest):
                return "rpi5", model
            if re.match(r"\s*(4|400|Compute Module 4)\b", rest):
                return "rpi4", model
            if re.match(r"\s*(3|Zero 2|Compute Module 3)\b", rest):
                return "rpi3", model
            return "generic", model + " (no built-in profile; older Pis are 32-bit only)"
        vendor = self.tree.value("/sys/class/dmi/id/sys_vendor") or ""
        product = self.tree.value("/sys/class/dmi/id/product_name") or ""
        lowered_vendor, lowered_product = vendor.lower(), product.lower()
        is_vm = any(v in lowered_vendor for v in _VM_VENDORS) or any(p in lowered_product for p in _VM_PRODUCTS)
        if lowered_vendor.startswith("microsoft") and "virtual machine" not in lowered_product:
            is_vm = False  # Surface laptops are Microsoft too
        hypervisor = self.tree.value("/sys/hypervisor/type")
        if not hypervisor and "hypervisor" in _cpuinfo_fields(self.tree.read("/proc/cpuinfo", "") or "").get("flags", "").split():
            hypervisor = "flag in /proc/cpuinfo"
        if is_vm or hypervisor:
            return "vm", (" ".join(x for x in (vendor, product) if x) or ("hypervisor " + (hypervisor or "")))
        battery = self.battery()
        chassis = self.tree.value("/sys/class/dmi/id/chassis_type") or ""
        chassis_type = int(chassis) if chassis.isdigit() else 0
        described = " ".join(x for x in (vendor, product) if x)
        if battery:
            return "laptop", "battery " + battery + ((", " + described) if described else "")
        if chassis_type in _CHASSIS_LAPTOP:
            return "laptop", "chassis type %d (portable)%s" % (chassis_type, (", " + described) if described else "")
        if chassis_type in _CHASSIS_MINI:
            return "mini-pc", "chassis type %d (mini PC)%s" % (chassis_type, (", " + described) if described else "")
        if chassis_type in _CHASSIS_SERVER:
            return "server", "chassis type %d (server)%s" % (chassis_type, (", " + described) if described else "")
        return "generic", described or "no model, DMI or battery facts matched a profile"

    def battery(self) -> str | None:
        for name in self.tree.listdir("/sys/class/power_supply"):
            base = "/sys/class/power_supply/" + name
            kind = self.tree.value(base + "/type")
            scope = (self.tree.value(base + "/scope") or "").lower()
            if scope == "device":
                continue  # a wireless mouse's battery, not the machine's
            if kind == "Battery" or (kind is None and name.startswith("BAT")):
                return name
        return None

    # -- disks -------------------------------------------------------------

    def _partitions(self, disk: str) -> list:
        return [p for p in self.tree.listdir("/sys/block/" + disk) if self.tree.exists("/sys/block/%s/%s/partition" % (disk, p))]

    def _devnums(self) -> dict:
        """maj:min -> block device name, for every disk, partition and virtual device."""
        nums = {}
        for name in self.tree.listdir("/sys/block"):
            num = self.tree.value("/sys/block/%s/dev" % name)
            if num:
                nums[num] = name
            for part in self._partitions(name):
                num = self.tree.value("/sys/block/%s/%s/dev" % (name, part))
                if num:
                    nums[num] = part
        return nums

    def _parent_disk(self) -> dict:
        parents = {}
        for name in self.tree.listdir("/sys/block"):
            parents[name] = name
            for part in self._partitions(name):
                parents[part] = name
        return parents

    def _disks_under(self, name: str, parents: dict, seen: set | None = None) -> set:
        """Physical disks a block device lives on (through dm/md slaves)."""
        seen = set() if seen is None else seen
        if name in seen:
            return set()
        seen.add(name)
        disk = parents.get(name)
        if disk is None:
            return set()
        slaves = self.tree.listdir("/sys/block/%s/slaves" % disk)
        if not slaves:
            return {disk}
        found = set()
        for slave in slaves:
            found |= self._disks_under(slave, parents, seen)
        return found

    def _dm_names(self) -> dict:
        names = {}
        for name in self.tree.listdir("/sys/block"):
            dm_name = self.tree.value("/sys/block/%s/dm/name" % name)
            if dm_name:
                names[dm_name] = name
        return names

    def _device_name(self, source: str) -> str | None:
        """Kernel name of a /dev path as written in mountinfo, fstab or cmdline."""
        if source.startswith("PARTUUID="):
            return self.tree.link_target("/dev/disk/by-partuuid/" + source[len("PARTUUID="):])
        if source.startswith("UUID="):
            return self.tree.link_target("/dev/disk/by-uuid/" + source[len("UUID="):])
        if source.startswith("/dev/mapper/"):
            mapped = self._dm_names().get(source[len("/dev/mapper/"):])
            return mapped or self.tree.link_target(source)
        if source.startswith("/dev/disk/"):
            return self.tree.link_target(source)
        if source.startswith("/dev/") and source != "/dev/root":
            return os.path.basename(source)
        return None

    def mounts(self) -> list:
        """[(mountpoint, maj:min or None, fstype, source)] in mount order."""
        text = self.tree.read("/proc/self/mountinfo") or self.tree.read("/proc/1/mountinfo")
        rows: list = []
        if text:
            for line in text.splitlines():
                left, sep, right = line.partition(" - ")
                fields, tail = left.split(), right.split()
                if not sep or len(fields) < 5 or len(tail) < 2:
                    continue
                rows.append((_unescape(fields[4]), fields[2], tail[0], _unescape(tail[1])))
            return rows
        for line in (self.tree.read("/proc/mounts") or "").splitlines():
            fields = line.split()
            if len(fields) >= 3:
                rows.append((_unescape(fields[1]), None, fields[2], _unescape(fields[0])))
        return rows

    def mounted_disks(self) -> tuple:
        """({disk: [mountpoints]}, root disks, root fstype, root source)."""
        nums, parents = self._devnums(), self._parent_disk()
        per_disk: dict = {}
        root_disks, root_fs, root_source = set(), None, None
        for mountpoint, num, fstype, source in self.mounts():
            name = nums.get(num) if num else None
            if name is None:
                name = self._device_name(source)
            if mountpoint == "/" and name is None and source == "/dev/root":
                name = self._cmdline_root()
            disks = self._disks_under(name, parents) if name else set()
            if mountpoint == "/":
                root_disks, root_fs, root_source = disks, fstype, source  # the last mount on / wins
            for disk in disks:
                per_disk.setdefault(disk, [])
                if mountpoint not in per_disk[disk]:
                    per_disk[disk].append(mountpoint)
        for line in (self.tree.read("/proc/swaps") or "").splitlines()[1:]:
            fields = line.split()
            if fields and fields[0].startswith("/dev/"):
                name = self._device_name(fields[0])
                for disk in self._disks_under(name, parents) if name else set():
                    per_disk.setdefault(disk, []).append("swap")
        return per_disk, root_disks, root_fs, root_source

    def _cmdline_root(self) -> str | None:
        cmdline = self.tree.value("/proc/cmdline") or ""
        m = re.search(r"(?:^|\s)root=(\S+)", cmdline)
        return self._device_name(m.group(1)) if m else None

    def _by_id(self) -> dict:
        """disk name -> best /dev/disk/by-id name."""
        candidates: dict = {}
        for link in self.tree.listdir("/dev/disk/by-id"):
            if re.search(r"-part\d+$", link):
                continue
            target = self.tree.link_target("/dev/disk/by-id/" + link)
            if not target:
                continue
            rank = len(_BY_ID_RANK) + 1
            for i, prefix in enumerate(_BY_ID_RANK):
                if link.startswith(prefix) and not link.startswith(("nvme-eui.", "nvme-nvme.", "nvme-uuid.")):
                    rank = i
                    break
            else:
                if link.startswith(("wwn-", "nvme-eui.")):
                    rank = len(_BY_ID_RANK)
            candidates.setdefault(target, []).append((rank, len(link), link))
        return {disk: min(names)[2] for disk, names in candidates.items()}

    def _by_id_all(self) -> dict:
        names: dict = {}
        for link in self.tree.listdir("/dev/disk/by-id"):
            target = self.tree.link_target("/dev/disk/by-id/" + link)
            if target:
                names.setdefault(target, []).append(link)
        return names

    def disk_type(self, name: str, by_id_names: list) -> str:
        base = "/sys/block/" + name
        if name.startswith("nvme"):
            return "nvme"
        if name.startswith("mmcblk"):
            kind = (self.tree.value(base + "/device/type") or "").upper()
            return "emmc" if kind == "MMC" else "sd"
        on_usb = any(n.startswith("usb-") for n in by_id_names) or "/usb" in self.tree.sys_path(base)
        if on_usb or self.tree.value(base + "/removable") == "1":
            # Checked before rotational: many USB-SATA bridges report SSDs as rotational.
            return "usb"
        if re.match(r"^x?vd[a-z]+$", name):
            return "ssd"  # virtio/Xen disks report rotational=1 whatever backs them
        if self.tree.value(base + "/queue/rotational") == "1":
            return "hdd"
        return "ssd"

    def disks(self) -> tuple:
        """([disk dicts], boot medium or None, root description)."""
        per_disk, root_disks, root_fs, root_source = self.mounted_disks()
        best, all_ids = self._by_id(), self._by_id_all()
        disks = []
        for name in self.tree.listdir("/sys/block"):
            base = "/sys/block/" + name
            if _SKIP_BLOCK.match(name) or not self.tree.exists(base + "/device"):
                continue
            sectors = self.tree.value(base + "/size") or "0"
            size = int(sectors) * 512 if sectors.isdigit() else 0
            if size == 0:
                continue  # an empty card reader
            kind = self.disk_type(name, all_ids.get(name, []))
            path = "/dev/disk/by-id/" + best[name] if name in best else "/dev/" + name
            mounted = per_disk.get(name, [])
            if name in root_disks:
                use, note = "system", "holds /" + (" (and %s)" % ", ".join(m for m in mounted if m != "/") if len(mounted) > 1 else "")
            elif mounted:
                use, note = "none", "mounted at %s; use: data keeps it as a local-volume disk" % ", ".join(mounted)
            else:
                use, note = "none", "nothing mounted; use: storage lets Ceph/Longhorn WIPE and take it"
            if name not in best:
                note += "; no /dev/disk/by-id link, /dev/%s may change across reboots" % name
            disks.append({"name": name, "path": path, "size": format_disk_size(size), "type": kind, "use": use, "note": note})
        disks.sort(key=lambda d: (d["use"] != "system", d["name"]))
        boot = None
        if root_disks:
            boot = next((d["type"] for d in disks if d["use"] == "system"), None)
        elif root_fs in ("nfs", "nfs4", "cifs", "smb3", "9p") or (root_source and ":/" in root_source):
            boot = "network"
        root = "%s on %s" % (root_fs, root_source) if root_fs else "no / mount found"
        return disks, boot, root

    # -- GPUs --------------------------------------------------------------

    def gpus(self) -> tuple:
        """([nvidia gpu dicts], [other GPU descriptions])."""
        found = []
        if self.lspci_text is not None:
            for line in self.lspci_text.splitlines():
                m = re.match(
                    r"^(?P<slot>\S+)\s+(?P<cls>[^\[]*?)\s*\[(?P<classid>[0-9a-fA-F]{4})\]:\s*(?P<desc>.*?)\s*"
                    r"\[(?P<vid>[0-9a-fA-F]{4}):(?P<did>[0-9a-fA-F]{4})\](?P<tail>.*)$",
                    line.strip(),
                )
                if m and m.group("classid").lower() in _GPU_CLASSES:
                    found.append((m.group("slot"), m.group("vid").lower(), m.group("did").lower(), _gpu_model(m.group("desc"))))
        else:
            for slot in self.tree.listdir("/sys/bus/pci/devices"):
                base = "/sys/bus/pci/devices/" + slot
                cls = (self.tree.value(base + "/class") or "").lower().replace("0x", "")
                vid = (self.tree.value(base + "/vendor") or "").lower().replace("0x", "")
                did = (self.tree.value(base + "/device") or "").lower().replace("0x", "")
                if cls[:4] in _GPU_CLASSES:
                    found.append((slot, vid, did, None))
        gpus, others = [], []
        for slot, vid, did, model in sorted(found):
            vendor = _GPU_VENDORS.get(vid)
            label = "%s %s:%s%s" % (slot, vid, did, (" " + model) if model else "")
            if vendor == "nvidia":
                gpus.append({"vendor": "nvidia", "model": model, "note": "PCI " + label})
            else:
                others.append("%s (%s)" % (label, vendor or "unknown vendor"))
        return gpus, others

    # -- serial devices ----------------------------------------------------

    def devices(self) -> list:
        devices = []
        for link in self.tree.listdir("/dev/serial/by-id"):
            lowered = link.lower()
            if "hubz" in lowered:  # Nortek HUSBZB-1: Z-Wave on if00, Zigbee on if01
                kind = "zigbee" if "-if01" in lowered else "zwave"
            elif _ZWAVE.search(lowered):
                kind = "zwave"
            elif _ZIGBEE.search(lowered):
                kind = "zigbee"
            else:
                kind = "serial"
            devices.append({"type": kind, "path": "/dev/serial/by-id/" + link, "id": link})
        used = set()
        for device in devices:
            base = device["type"] if device["type"] != "serial" else _serial_name(device["id"])
            name, n = base, 1
            while name in used:
                n += 1
                suffix = "-%d" % n
                name = base[: 63 - len(suffix)].rstrip("-") + suffix
            used.add(name)
            device["name"] = name
        return devices

    # -- network -----------------------------------------------------------

    def interfaces(self) -> dict:
        """name -> {mac, physical, wireless, v4: [(addr, prefix)], v6: [...]}."""
        nics = self._sysfs_interfaces()
        if self.ip_json is not None and self._add_ip_json_addresses(nics):
            return nics
        self._add_kernel_addresses(nics)
        return nics

    def _sysfs_interfaces(self) -> dict:
        nics: dict = {}
        for name in self.tree.listdir("/sys/class/net"):
            if name == "lo":
                continue
            base = "/sys/class/net/" + name
            nics[name] = {
                "mac": (self.tree.value(base + "/address") or "").lower(),
                "physical": self.tree.exists(base + "/device"),
                "wireless": self.tree.exists(base + "/wireless") or self.tree.exists(base + "/phy80211"),
                "v4": [],
                "v6": [],
            }
        return nics

    def _add_ip_json_addresses(self, nics: dict) -> bool:
        """Addresses from `ip -j addr`; False when its output is unusable (then /proc serves)."""
        try:
            links = json.loads(self.ip_json or "")
        except ValueError:
            self.warn("could not parse `ip -j addr` output; addresses come from /proc")
            return False
        if not isinstance(links, list):
            return False
        for link in links:
            name = link.get("ifname")
            if not name or name == "lo":
                continue
            nic = nics.setdefault(
                name, {"mac": (link.get("address") or "").lower(), "physical": False, "wireless": False, "v4": [], "v6": []}
            )
            for info in link.get("addr_info", []):
                if info.get("scope") != "global" or not info.get("local"):
                    continue
                family = "v4" if info.get("family") == "inet" else "v6"
                if family == "v6" and info.get("temporary"):
                    continue
                nic[family].append((info["local"], int(info.get("prefixlen", 0))))
        return True

    def _add_kernel_addresses(self, nics: dict) -> None:
        v4 = self._ioctl_v4(sorted(nics)) if self.tree.live else None
        for addr, prefix, name in v4 if v4 is not None else self._fib_trie_v4():
            if name in nics:
                nics[name]["v4"].append((addr, prefix))
        for line in (self.tree.read("/proc/net/if_inet6") or "").splitlines():
            fields = line.split()
            if len(fields) < 6 or fields[5] not in nics or fields[3] != "00":
                continue
            if int(fields[4], 16) & 0x01:  # IFA_F_TEMPORARY (privacy address)
                continue
            try:
                addr = str(ipaddress.IPv6Address(bytes.fromhex(fields[0])))
            except ValueError:
                continue
            nics[fields[5]]["v6"].append((addr, int(fields[2], 16)))

    def _ioctl_v4(self, names: list) -> list | None:
        """Each interface's primary IPv4 address, asked of the running kernel."""
        try:
            import fcntl
            import socket
            import struct

            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        except (ImportError, OSError):
            return None
        found = []
        with sock:
            for name in names:
                ifreq = struct.pack("256s", name.encode()[:15])
                try:
                    addr = socket.inet_ntoa(fcntl.ioctl(sock.fileno(), 0x8915, ifreq)[20:24])  # SIOCGIFADDR
                    mask = socket.inet_ntoa(fcntl.ioctl(sock.fileno(), 0x891B, ifreq)[20:24])  # SIOCGIFNETMASK
                except OSError:
                    continue  # no IPv4 address
                found.append((addr, ipaddress.IPv4Network("0.0.0.0/" + mask).prefixlen, name))
        return found

    def _routes_v4(self) -> list:
        """[(iface, network, metric)] from /proc/net/route."""
        routes = []
        for line in (self.tree.read("/proc/net/route") or "").splitlines()[1:]:
            fields = line.split()
            if len(fields) < 8:
                continue
            try:
                dest = ipaddress.IPv4Address(bytes.fromhex(fields[1])[::-1])
                mask = ipaddress.IPv4Address(bytes.fromhex(fields[7])[::-1])
                net = ipaddress.IPv4Network("%s/%s" % (dest, mask), strict=False)
                routes.append((fields[0], net, int(fields[6])))
            except ValueError:
                continue
        return routes

    def _fib_trie_v4(self) -> list:
        """Local IPv4 addresses from /proc/net/fib_trie, matched to interfaces by their subnet routes."""
        local, last = [], None
        for line in (self.tree.read("/proc/net/fib_trie") or "").splitlines():
            stripped = line.strip()
            if stripped.startswith("|--"):
                last = stripped[3:].strip()
            elif stripped.startswith("/32 host LOCAL") and last and last not in local:
                local.append(last)
        subnets = [r for r in self._routes_v4() if r[1].prefixlen > 0]
        found = []
        for text in local:
            try:
                addr = ipaddress.IPv4Address(text)
            except ValueError:
                continue
            if addr.is_loopback:
                continue
            matches = sorted((r for r in subnets if addr in r[1]), key=lambda r: (-r[1].prefixlen, r[2], r[0]))
            if matches:
                found.append((text, matches[0][1].prefixlen, matches[0][0]))
                if len({r[0] for r in matches if r[1] == matches[0][1]}) > 1:
                    self.warn("%s: several interfaces route %s; guessed %s (install iproute2 or pass --ip-json)" % (text, matches[0][1], matches[0][0]))
        return found

    def default_interface(self) -> str | None:
        defaults = sorted((metric, iface) for iface, net, metric in self._routes_v4() if net.prefixlen == 0)
        if defaults:
            return defaults[0][1]
        for line in (self.tree.read("/proc/net/ipv6_route") or "").splitlines():
            fields = line.split()
            if len(fields) >= 10 and fields[0] == "0" * 32 and fields[1] == "00" and fields[9] != "lo":
                return fields[9]
        return None


def _unescape(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def _gpu_model(desc: str) -> str | None:
    desc = re.sub(r"^(NVIDIA Corporation|Intel Corporation|Advanced Micro Devices, Inc\.|AMD/ATI)\s*", "", desc.strip())
    bracketed = re.findall(r"\[([^\]]+)\]", desc)
    if bracketed:
        return bracketed[-1].strip()
    if not desc or re.match(r"^Device [0-9a-fA-F]{4}$", desc):
        return None
    return desc


def _serial_name(link: str) -> str:
    core = re.sub(r"^(usb|pci|platform)-", "", link)
    core = re.sub(r"-if\d+(-port\d+)?$", "", core)
    label = dns_label(core, fallback="serial", limit=40)
    return label


# --------------------------------------------------------------------------
# YAML output (hand-written so the script needs no PyYAML)

_PLAIN = re.compile(r"^[A-Za-z/][A-Za-z0-9._/+-]*$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Mi|Gi|Ti)$")
_IPV4 = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}


def yaml_scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if (_PLAIN.match(text) or _QUANTITY.match(text) or _IPV4.match(text)) and text.lower() not in _RESERVED:
        return text
    # A JSON string is a valid YAML double-quoted scalar; spell non-ASCII as
    # YAML escapes so the output survives any terminal encoding.
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(c if ord(c) < 128 else ("\\u%04x" % ord(c) if ord(c) < 0x10000 else "\\U%08x" % ord(c)) for c in quoted)


def _comment(text: str) -> str:
    return " ".join(text.split()).encode("ascii", "replace").decode("ascii")


def render(facts: dict, indent: int = 2) -> str:
    pad = " " * indent
    lines = []

    def item(key: str, value, note: str | None = None, level: int = 1) -> None:
        line = "%s%s%s: %s" % (pad, "  " * level, key, yaml_scalar(value))
        lines.append(line + ("  # " + _comment(note) if note else ""))

    def comment(text: str, level: int = 1) -> None:
        lines.append("%s%s# %s" % (pad, "  " * level, _comment(text)))

    lines.append("# clustergen probe v%d: %s. Review, then paste under nodes:" % (VERSION, _comment(facts["source"])))
    lines.append("%s- name: %s%s" % (pad, yaml_scalar(facts["name"]), ("  # " + _comment(facts["name_note"])) if facts.get("name_note") else ""))
    item("address", facts["address"], facts.get("address_note"))
    if facts.get("mac"):
        item("mac", facts["mac"], facts.get("mac_note"))
    for text in facts.get("nic_comments", []):
        comment(text)
    item("profile", facts["profile"], facts.get("profile_note"))
    if facts.get("arch"):
        item("arch", facts["arch"], facts.get("arch_note"))
    else:
        comment("arch: unknown (%s); set amd64, arm64 or arm" % facts.get("arch_note", "?"))
    if facts.get("os"):
        item("os", facts["os"], facts.get("os_note"))
    elif facts.get("os_note"):
        comment("os: %s is not one clustergen writes cloud-init for (ubuntu, debian, raspios)" % facts["os_note"])
    if facts.get("cpu"):
        item("cpu", facts["cpu"])
    if facts.get("memory"):
        item("memory", facts["memory"], facts.get("memory_note"))
    if facts.get("bootMedium"):
        item("bootMedium", facts["bootMedium"], facts.get("boot_note"))
    else:
        comment("bootMedium: unknown (%s)" % facts.get("boot_note", "?"))
    _render_hardware(facts, pad, lines, item, comment)
    return "\n".join(lines) + "\n"


def _render_hardware(facts: dict, pad: str, lines: list, item, comment) -> None:
    """The disks, GPUs and serial devices of ``render``'s node entry."""
    if facts["disks"]:
        lines.append("%s  disks:" % pad)
        comment("use: system = OS and k3s data; storage = raw disk that Ceph/Longhorn WIPE; data = mounted local volumes; none = leave alone", 2)
        for disk in facts["disks"]:
            lines.append("%s    - path: %s" % (pad, yaml_scalar(disk["path"])))
            item("size", disk["size"], None, 3)
            item("type", disk["type"], None, 3)
            item("use", disk["use"], disk["note"], 3)
    if facts["gpus"]:
        lines.append("%s  gpus:" % pad)
        for gpu in facts["gpus"]:
            lines.append("%s    - vendor: %s  # %s" % (pad, yaml_scalar(gpu["vendor"]), _comment(gpu["note"])))
            if gpu.get("model"):
                item("model", gpu["model"], None, 3)
    for text in facts.get("gpu_comments", []):
        comment(text)
    if facts["devices"]:
        lines.append("%s  devices:" % pad)
        for device in facts["devices"]:
            lines.append("%s    - name: %s" % (pad, yaml_scalar(device["name"])))
            item("type", device["type"], None, 3)
            item("path", device["path"], None, 3)


# --------------------------------------------------------------------------
# Putting it together


def collect(probe: Probe, name: str | None = None) -> dict:
    facts: dict = {}
    hostname = probe.hostname()
    if name:
        facts["name"] = dns_label(name)
        if facts["name"] != name:
            probe.warn("--name %r is not a DNS label; using %r" % (name, facts["name"]))
    else:
        facts["name"] = dns_label(hostname.split(".")[0])
        if facts["name"] != hostname:
            facts["name_note"] = "hostname " + (hostname or "not set")
    facts["source"] = "facts read from " + ("this machine" if probe.tree.live else probe.tree.root)

    nics = probe.interfaces()
    primary = probe.default_interface()
    how = "the interface with the default route"
    if primary not in nics:
        how = "no default route, first NIC with an address"
        with_v4 = [n for n in sorted(nics) if nics[n]["physical"] and nics[n]["v4"]]
        with_any = [n for n in sorted(nics) if nics[n]["physical"] and (nics[n]["v4"] or nics[n]["v6"])]
        primary = (with_v4 or with_any or [None])[0]
        probe.warn("no default route; using %s" % (primary or "no interface"))
    facts["address"] = "FIXME"
    facts["address_note"] = "no address found; write the node's static address"
    if primary:
        nic = nics[primary]
        chosen = (nic["v4"] or nic["v6"] or [None])[0]
        if chosen:
            facts["address"] = chosen[0]
            facts["address_note"] = "%s %s/%d, %s; clustergen pins it, so reserve it in DHCP" % (primary, chosen[0], chosen[1], how)
        if nic["mac"] and re.match(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", nic["mac"]):
            facts["mac"] = nic["mac"]
            facts["mac_note"] = primary + ("" if nic["physical"] else " (a virtual interface: bridge, bond or VLAN; check the MAC)")
        extra = [a for a in (nic["v4"] + nic["v6"]) if not chosen or a[0] != chosen[0]]
        if extra:
            facts.setdefault("nic_comments", []).append(
                "%s also has %s (dual-stack? write address: [v4, v6])" % (primary, ", ".join("%s/%d" % a for a in extra))
            )
    for other in sorted(nics):
        nic = nics[other]
        if other == primary or not nic["physical"]:
            continue
        addrs = ", ".join("%s/%d" % a for a in nic["v4"] + nic["v6"]) or "no address"
        facts.setdefault("nic_comments", []).append(
            "other NIC: %s%s mac %s, %s" % (other, " (wifi)" if nic["wireless"] else "", nic["mac"] or "?", addrs)
        )

    facts["profile"], facts["profile_note"] = probe.profile()
    facts["arch"], facts["arch_note"] = probe.arch()
    facts["os"], facts["os_note"] = probe.os_id()
    facts["cpu"] = probe.cpu_count()
    mem = probe.mem_total_kib()
    if mem:
        facts["memory"] = format_memory(mem)
        facts["memory_note"] = "MemTotal %.2f GiB" % (mem / float(1024 * 1024))
    facts["disks"], facts["bootMedium"], facts["boot_note"] = probe.disks()
    facts["gpus"], others = probe.gpus()
    facts["gpu_comments"] = ["also a GPU: %s; add it under gpus: if apps should use it" % o for o in others]
    facts["devices"] = probe.devices()
    return facts


def _read_file(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _run(argv: list) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="probe.py",
        description="Print this machine's clustergen inventory entry (paste it under nodes:).",
    )
    parser.add_argument("--root", default="/", help="read /proc, /sys, /dev and /etc below this directory (default /)")
    parser.add_argument("--name", help="node name (default: the hostname, made a DNS label)")
    parser.add_argument("--lspci-output", metavar="FILE", help="`lspci -nn` output to use instead of running lspci (env %s)" % ENV_LSPCI)
    parser.add_argument("--ip-json", metavar="FILE", help="`ip -j addr` output to use instead of running ip (env %s)" % ENV_IP_JSON)
    parser.add_argument("--machine", help="`uname -m` value to use (default: uname on /, else /proc/cpuinfo)")
    parser.add_argument("--no-commands", action="store_true", help="never run lspci or ip (the default when --root is not /)")
    parser.add_argument("--indent", type=int, default=2, help="spaces before '- name:' (default 2, as under nodes:)")
    args = parser.parse_args(argv)

    tree = Tree(args.root)
    if not tree.isdir("/"):
        parser.error("--root %s is not a directory" % args.root)
    run_commands = tree.live and not args.no_commands

    lspci_file = args.lspci_output or os.environ.get(ENV_LSPCI)
    ip_file = args.ip_json or os.environ.get(ENV_IP_JSON)
    try:
        lspci_text = _read_file(lspci_file) if lspci_file else (_run(["lspci", "-nn"]) if run_commands else None)
        ip_json = _read_file(ip_file) if ip_file else (_run(["ip", "-j", "addr", "show"]) if run_commands else None)
    except OSError as exc:
        parser.error(str(exc))

    probe = Probe(tree, args.machine, lspci_text, ip_json)
    facts = collect(probe, args.name)
    sys.stdout.write(render(facts, indent=max(0, args.indent)))
    for text in probe.warnings:
        sys.stderr.write("probe: warning: %s\n" % text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
