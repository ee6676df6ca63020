"""`probe.py` against fake /proc, /sys and /dev trees built under tmp_path.

The script is run the way a user runs it on a new machine: as a separate
python3 process, isolated from site-packages (-I -S), so any import beyond
the standard library fails the test.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "generator" / "probe.py"
SCHEMA = ROOT / "generator" / "schemas" / "inventory.schema.json"
FIXTURES = ROOT / "tests" / "fixtures" / "probe"

GIB_SECTORS = 2 * 1024 * 1024  # 512-byte sectors in a GiB


def load_probe_module():
    spec = importlib.util.spec_from_file_location("clustergen_probe_under_test", PROBE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------
# Building fake trees


class FakeMachine:
    def __init__(self, root: Path) -> None:
        self.root = root

    def file(self, path: str, text: str = "") -> None:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def files(self, mapping: dict) -> None:
        for path, text in mapping.items():
            self.file(path, text)

    def dir(self, path: str) -> None:
        (self.root / path.lstrip("/")).mkdir(parents=True, exist_ok=True)

    def link(self, path: str, target: str) -> None:
        """A relative symlink inside the tree, like udev's ../../sda."""
        where = self.root / path.lstrip("/")
        where.parent.mkdir(parents=True, exist_ok=True)
        where.symlink_to(os.path.relpath(self.root / target.lstrip("/"), where.parent))

    def block(
        self,
        name: str,
        dev: str,
        sectors: int,
        *,
        devpath: str | None = None,
        rotational: int = 0,
        removable: int = 0,
        partitions: tuple = (),
        device_type: str | None = None,
        physical: bool = True,
    ) -> None:
        """/sys/block/<name>, optionally a symlink into /sys/devices like the real one."""
        base = devpath or f"/sys/block/{name}"
        if devpath:
            self.link(f"/sys/block/{name}", devpath)
        self.files({f"{base}/dev": dev + "\n", f"{base}/size": f"{sectors}\n", f"{base}/queue/rotational": f"{rotational}\n", f"{base}/removable": f"{removable}\n"})
        if physical:
            self.dir(f"{base}/device")
        if device_type:
            self.file(f"{base}/device/type", device_type + "\n")
        major = dev.split(":")[0]
        for i, (part, part_sectors) in enumerate(partitions, start=1):
            minor = int(dev.split(":")[1]) + i
            self.files({f"{base}/{part}/partition": f"{i}\n", f"{base}/{part}/dev": f"{major}:{minor}\n", f"{base}/{part}/size": f"{part_sectors}\n"})

    def nic(self, name: str, mac: str, *, physical: bool = True, wireless: bool = False) -> None:
        self.file(f"/sys/class/net/{name}/address", mac + "\n")
        if physical:
            self.dir(f"/sys/class/net/{name}/device")
        if wireless:
            self.dir(f"/sys/class/net/{name}/wireless")

    def routes(self, *rows: tuple) -> None:
        """rows of (iface, destination, mask, metric) in dotted form."""

        def hexle(dotted: str) -> str:
            return "".join(f"{int(o):02X}" for o in reversed(dotted.split(".")))

        lines = ["Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"]
        for iface, dest, mask, metric in rows:
            lines.append(f"{iface}\t{hexle(dest)}\t00000000\t0001\t0\t0\t{metric}\t{hexle(mask)}\t0\t0\t0")
        self.file("/proc/net/route", "\n".join(lines) + "\n")


def cpuinfo_arm64(n: int) -> str:
    block = "processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\n\n"
    return "".join(block.format(i=i) for i in range(n)) + "Hardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n"


def cpuinfo_x86(n: int, model: str) -> str:
    block = "processor\t: {i}\nvendor_id\t: GenuineIntel\nmodel name\t: {model}\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm constant_tsc\n\n"
    return "".join(block.format(i=i, model=model) for i in range(n))


@pytest.fixture
def rpi4(tmp_path: Path) -> Path:
    """Raspberry Pi 4 (4 GB) booting Raspberry Pi OS from an SD card, a USB SSD attached, a Zigbee stick and an FTDI cable."""
    m = FakeMachine(tmp_path / "rpi4")
    m.files(
        {
            "/proc/sys/kernel/hostname": "Pi-Kitchen\n",
            "/proc/device-tree/model": "Raspberry Pi 4 Model B Rev 1.4\x00",
            "/proc/cpuinfo": cpuinfo_arm64(4),
            "/sys/devices/system/cpu/online": "0-3\n",
            "/proc/meminfo": "MemTotal:        3884360 kB\nMemFree:         3000000 kB\n",
            "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
            "/etc/rpi-issue": "Raspberry Pi reference 2024-11-19\n",
            "/proc/cmdline": "console=serial0,115200 root=PARTUUID=6c586e13-02 rootfstype=ext4 fsck.repair=yes rootwait\n",
            "/proc/self/mountinfo": (
                "22 1 179:2 / / rw,noatime shared:1 - ext4 /dev/root rw\n"
                "23 22 0:21 / /proc rw,relatime shared:12 - proc proc rw\n"
                "24 22 0:22 / /sys rw,relatime shared:2 - sysfs sysfs rw\n"
                "30 22 179:1 / /boot/firmware rw,relatime shared:24 - vfat /dev/mmcblk0p1 rw,fmask=0022\n"
            ),
            # The PCIe USB controller (VIA VL805) must not count as a GPU.
            "/sys/bus/pci/devices/0000:01:00.0/vendor": "0x1106\n",
            "/sys/bus/pci/devices/0000:01:00.0/device": "0x3483\n",
            "/sys/bus/pci/devices/0000:01:00.0/class": "0x0c0330\n",
        }
    )
    m.block("mmcblk0", "179:0", 62333952, device_type="SD", partitions=(("mmcblk0p1", 1048576), ("mmcblk0p2", 61276160)))
    # A USB-SATA bridge that claims its SSD is rotational: still a usb disk.
    m.block(
        "sda",
        "8:0",
        1953525168,
        rotational=1,
        devpath="/sys/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sda",
    )
    m.block("loop0", "7:0", 8192, physical=False)
    m.block("ram0", "1:0", 8192, physical=False)
    for link, target in {
        "mmc-SC32G_0x1234abcd": "mmcblk0",
        "mmc-SC32G_0x1234abcd-part1": "mmcblk0p1",
        "mmc-SC32G_0x1234abcd-part2": "mmcblk0p2",
        "usb-Samsung_PSSD_T7_S5TANS0R000000-0:0": "sda",
    }.items():
        m.link(f"/dev/disk/by-id/{link}", f"/dev/{target}")
    m.link("/dev/disk/by-partuuid/6c586e13-01", "/dev/mmcblk0p1")
    m.link("/dev/disk/by-partuuid/6c586e13-02", "/dev/mmcblk0p2")
    m.link("/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_4c5b2f0fe7a1ed11a8a2d3a2a1b2c3d4-if00-port0", "/dev/ttyUSB0")
    m.link("/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0", "/dev/ttyUSB1")
    m.nic("eth0", "DC:A6:32:01:02:03")
    m.nic("wlan0", "dc:a6:32:01:02:04", wireless=True)
    m.nic("lo", "00:00:00:00:00:00", physical=False)
    m.routes(("eth0", "0.0.0.0", "0.0.0.0", 100), ("eth0", "192.168.1.0", "255.255.255.0", 100), ("wlan0", "0.0.0.0", "0.0.0.0", 600), ("wlan0", "192.168.1.0", "255.255.255.0", 600))
    return m.root


@pytest.fixture
def minipc(tmp_path: Path) -> Path:
    """x86 mini PC: NVMe system disk under LVM, a 4 TB SATA HDD, an NVIDIA GPU next to the Intel iGPU."""
    m = FakeMachine(tmp_path / "minipc")
    m.files(
        {
            "/proc/sys/kernel/hostname": "minipc\n",
            "/proc/cpuinfo": cpuinfo_x86(8, "Intel(R) Core(TM) i7-8750H CPU @ 2.20GHz"),
            "/proc/meminfo": "MemTotal:       16248632 kB\n",
            "/etc/os-release": 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n',
            "/sys/class/dmi/id/sys_vendor": "AZW\n",
            "/sys/class/dmi/id/product_name": "SER\n",
            "/sys/class/dmi/id/chassis_type": "35\n",
            "/proc/self/mountinfo": (
                "26 1 252:0 / / rw,relatime shared:1 - ext4 /dev/mapper/ubuntu--vg-ubuntu--lv rw\n"
                "27 26 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw\n"
                "31 26 259:1 / /boot/efi rw,relatime shared:60 - vfat /dev/nvme0n1p1 rw\n"
                "40 26 0:45 / /var/lib/docker rw shared:70 - overlay overlay rw\n"
            ),
        }
    )
    m.block(
        "nvme0n1",
        "259:0",
        1953525168,
        devpath="/sys/devices/pci0000:00/0000:00:1d.0/0000:02:00.0/nvme/nvme0/nvme0n1",
        partitions=(("nvme0n1p1", 2201600), ("nvme0n1p2", 1951320064)),
    )
    m.block("dm-0", "252:0", 1951318016, physical=False)
    m.file("/sys/block/dm-0/dm/name", "ubuntu--vg-ubuntu--lv\n")
    m.link("/sys/block/dm-0/slaves/nvme0n1p2", "/sys/devices/pci0000:00/0000:00:1d.0/0000:02:00.0/nvme/nvme0/nvme0n1/nvme0n1p2")
    m.block("sda", "8:0", 7814037168, rotational=1, devpath="/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda")
    for link, target in {
        "nvme-Samsung_SSD_980_1TB_S64ANS0T000000X": "nvme0n1",
        "nvme-Samsung_SSD_980_1TB_S64ANS0T000000X_1": "nvme0n1",
        "nvme-eui.002538b000000000": "nvme0n1",
        "nvme-Samsung_SSD_980_1TB_S64ANS0T000000X-part1": "nvme0n1p1",
        "nvme-Samsung_SSD_980_1TB_S64ANS0T000000X-part2": "nvme0n1p2",
        "dm-name-ubuntu--vg-ubuntu--lv": "dm-0",
        "ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0000001": "sda",
        "wwn-0x50014ee2b0000001": "sda",
    }.items():
        m.link(f"/dev/disk/by-id/{link}", f"/dev/{target}")
    m.nic("enp3s0", "7c:83:34:aa:bb:cc")
    m.nic("enp4s0", "7c:83:34:aa:bb:cd")
    m.nic("docker0", "02:42:ac:11:00:01", physical=False)
    m.routes(("enp3s0", "0.0.0.0", "0.0.0.0", 100), ("enp3s0", "192.168.50.0", "255.255.255.0", 100), ("docker0", "172.17.0.0", "255.255.0.0", 0))
    return m.root


@pytest.fixture
def laptop(tmp_path: Path) -> Path:
    """Old laptop: battery, SATA SSD, a USB stick, an empty SD reader, a Z-Wave stick; no ip, no lspci, no mountinfo."""
    m = FakeMachine(tmp_path / "laptop")
    m.files(
        {
            "/proc/sys/kernel/hostname": "ThinkPad_T480\n",
            "/proc/cpuinfo": cpuinfo_x86(8, "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz"),
            "/sys/devices/system/cpu/online": "0-3\n",
            "/proc/meminfo": "MemTotal:        7970000 kB\n",
            "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n',
            "/sys/class/dmi/id/sys_vendor": "LENOVO\n",
            "/sys/class/dmi/id/product_name": "20L5CTO1WW\n",
            "/sys/class/dmi/id/chassis_type": "10\n",
            "/sys/class/power_supply/AC/type": "Mains\n",
            "/sys/class/power_supply/BAT0/type": "Battery\n",
            "/sys/class/power_supply/BAT0/scope": "System\n",
            "/sys/class/power_supply/hidpp_battery_0/type": "Battery\n",
            "/sys/class/power_supply/hidpp_battery_0/scope": "Device\n",
            # No /proc/self/mountinfo: the /proc/mounts fallback (with an escaped space).
            "/proc/mounts": (
                "/dev/sda2 / ext4 rw,relatime,errors=remount-ro 0 0\n"
                "proc /proc proc rw 0 0\n"
                "/dev/sda1 /boot/efi vfat rw 0 0\n"
                "/dev/sdb1 /media/me/MY\\040STICK vfat rw,nosuid 0 0\n"
            ),
            "/proc/swaps": "Filename\tType\tSize\tUsed\tPriority\n/dev/sda3\tpartition\t8388604\t0\t-2\n",
            # Addresses without `ip`: IPv4 from fib_trie + route, IPv6 from if_inet6.
            "/proc/net/fib_trie": (
                "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n"
                "     +-- 10.0.0.0/24 2 0 2\n        |-- 10.0.0.0\n           /24 link UNICAST\n"
                "        |-- 10.0.0.23\n           /32 host LOCAL\n"
                "     +-- 127.0.0.0/8 2 0 2\n        |-- 127.0.0.1\n           /32 host LOCAL\n"
                "     +-- 192.168.50.0/24 2 0 2\n        |-- 192.168.50.0\n           /24 link UNICAST\n"
                "        |-- 192.168.50.12\n           /32 host LOCAL\n        |-- 192.168.50.255\n           /32 link BROADCAST\n"
                "Local:\n  +-- 0.0.0.0/0 3 0 5\n     +-- 192.168.50.0/24 2 0 2\n        |-- 192.168.50.12\n           /32 host LOCAL\n"
            ),
            "/proc/net/if_inet6": (
                "fd000000000000500000000000000012 02 40 00 80 enp0s31f6\n"
                "fd00000000000050a1b2c3d4e5f60718 02 40 00 01 enp0s31f6\n"
                "fe80000000000000ea6a64fffe000001 02 40 20 80 enp0s31f6\n"
                "00000000000000000000000000000001 01 80 10 80 lo\n"
            ),
            "/sys/bus/pci/devices/0000:00:02.0/vendor": "0x8086\n",
            "/sys/bus/pci/devices/0000:00:02.0/device": "0x5917\n",
            "/sys/bus/pci/devices/0000:00:02.0/class": "0x030000\n",
            "/sys/bus/pci/devices/0000:01:00.0/vendor": "0x10de\n",
            "/sys/bus/pci/devices/0000:01:00.0/device": "0x1d10\n",
            "/sys/bus/pci/devices/0000:01:00.0/class": "0x030200\n",
            "/sys/bus/pci/devices/0000:00:1f.3/vendor": "0x8086\n",
            "/sys/bus/pci/devices/0000:00:1f.3/class": "0x040300\n",
        }
    )
    m.block("sda", "8:0", 976773168, partitions=(("sda1", 1048576), ("sda2", 967000000), ("sda3", 8388608)))
    m.block(
        "sdb",
        "8:16",
        30031872,
        removable=1,
        rotational=1,
        devpath="/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host2/target2:0:0/2:0:0:0/block/sdb",
        partitions=(("sdb1", 30029824),),
    )
    m.block("mmcblk0", "179:0", 0, device_type="SD")  # empty card reader
    for link, target in {
        "ata-Samsung_SSD_860_EVO_500GB_S3Z1NB0K000000A": "sda",
        "scsi-0ATA_Samsung_SSD_860_S3Z1NB0K000000A": "sda",
        "wwn-0x5002538e00000001": "sda",
        "ata-Samsung_SSD_860_EVO_500GB_S3Z1NB0K000000A-part1": "sda1",
        "ata-Samsung_SSD_860_EVO_500GB_S3Z1NB0K000000A-part2": "sda2",
        "usb-SanDisk_Cruzer_Blade_4C530001230101112345-0:0": "sdb",
        "usb-SanDisk_Cruzer_Blade_4C530001230101112345-0:0-part1": "sdb1",
    }.items():
        m.link(f"/dev/disk/by-id/{link}", f"/dev/{target}")
    m.link("/dev/serial/by-id/usb-Zooz_800_Z-Wave_Stick_533D004242-if00", "/dev/ttyACM0")
    m.nic("enp0s31f6", "e8:6a:64:00:00:01")
    m.nic("wlp3s0", "a0:51:0b:00:00:02", wireless=True)
    m.nic("virbr0", "52:54:00:00:00:03", physical=False)
    m.routes(
        ("wlp3s0", "0.0.0.0", "0.0.0.0", 600),
        ("enp0s31f6", "0.0.0.0", "0.0.0.0", 100),
        ("enp0s31f6", "192.168.50.0", "255.255.255.0", 100),
        ("wlp3s0", "10.0.0.0", "255.255.255.0", 600),
    )
    return m.root


# --------------------------------------------------------------------------
# Running the script


def run_probe(root: Path, *args: str) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERGEN_PROBE_")}
    # -I -S: no site-packages, no user site, no PYTHONPATH: only the standard library can be imported.
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(PROBE), "--root", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def parse_entry(output: str) -> dict:
    entries = yaml.safe_load(output)
    assert isinstance(entries, list) and len(entries) == 1, output
    return entries[0]


def assert_valid(entry: dict) -> None:
    inventory = {
        "apiVersion": "clustergen.dev/v1alpha1",
        "kind": "Inventory",
        "cluster": {"name": "lab", "domain": "home.example.com"},
        "network": {"nodeCidr": "192.168.0.0/16", "gateway": "192.168.1.1"},
        "nodes": [entry],
        "gitops": {"repository": "https://github.com/example/lab.git"},
    }
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(inventory), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_raspberry_pi_4_on_sd_with_zigbee(rpi4: Path) -> None:
    out, _ = run_probe(rpi4, "--ip-json", str(FIXTURES / "rpi4-ip.json"))
    entry = parse_entry(out)
    assert_valid(entry)
    assert entry == {
        "name": "pi-kitchen",
        "address": "192.168.1.50",
        "mac": "dc:a6:32:01:02:03",
        "profile": "rpi4",
        "arch": "arm64",
        "os": "raspios",
        "cpu": 4,
        "memory": "4Gi",
        "bootMedium": "sd",
        "disks": [
            {"path": "/dev/disk/by-id/mmc-SC32G_0x1234abcd", "size": "29Gi", "type": "sd", "use": "system"},
            {"path": "/dev/disk/by-id/usb-Samsung_PSSD_T7_S5TANS0R000000-0:0", "size": "931Gi", "type": "usb", "use": "none"},
        ],
        "devices": [
            {"name": "ftdi-ft232r-usb-uart-a50285bi", "type": "serial", "path": "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"},
            {
                "name": "zigbee",
                "type": "zigbee",
                "path": "/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_4c5b2f0fe7a1ed11a8a2d3a2a1b2c3d4-if00-port0",
            },
        ],
    }
    # MACs are quoted; the by-id path with a colon too; the wifi NIC is a comment.
    assert '    mac: "dc:a6:32:01:02:03"' in out
    assert '"/dev/disk/by-id/usb-Samsung_PSSD_T7_S5TANS0R000000-0:0"' in out
    assert "# other NIC: wlan0 (wifi) mac dc:a6:32:01:02:04, 192.168.1.51/24" in out
    assert "use: storage lets Ceph/Longhorn WIPE" in out
    assert "hostname Pi-Kitchen" in out


def test_mini_pc_with_nvme_hdd_and_nvidia(minipc: Path) -> None:
    out, _ = run_probe(minipc, "--lspci-output", str(FIXTURES / "minipc-lspci.txt"), "--ip-json", str(FIXTURES / "minipc-ip.json"))
    entry = parse_entry(out)
    assert_valid(entry)
    assert entry == {
        "name": "minipc",
        "address": "192.168.50.11",
        "mac": "7c:83:34:aa:bb:cc",
        "profile": "mini-pc",
        "arch": "amd64",
        "os": "ubuntu",
        "cpu": 8,
        "memory": "16Gi",
        "bootMedium": "nvme",
        "disks": [
            {"path": "/dev/disk/by-id/nvme-Samsung_SSD_980_1TB_S64ANS0T000000X", "size": "931Gi", "type": "nvme", "use": "system"},
            {"path": "/dev/disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0000001", "size": "3.6Ti", "type": "hdd", "use": "none"},
        ],
        "gpus": [{"vendor": "nvidia", "model": "GeForce GTX 1650"}],
    }
    assert "holds / (and /boot/efi)" in out
    # The stable IPv6 address is offered for dual-stack; the temporary one is not.
    assert "enp3s0 also has 2001:db8:50::11/64" in out
    assert "2001:db8:50::1234:5678" not in out
    assert "# other NIC: enp4s0 mac 7c:83:34:aa:bb:cd, no address" in out
    assert "docker0" not in out
    assert "also a GPU: 00:02.0 8086:3e9b UHD Graphics 630 (intel)" in out


def test_laptop_with_battery_and_zwave(laptop: Path) -> None:
    out, err = run_probe(laptop)
    entry = parse_entry(out)
    assert_valid(entry)
    assert entry == {
        "name": "thinkpad-t480",
        "address": "192.168.50.12",
        "mac": "e8:6a:64:00:00:01",
        "profile": "laptop",
        "arch": "amd64",
        "os": "debian",
        "cpu": 4,
        "memory": "8Gi",
        "bootMedium": "ssd",
        "disks": [
            {"path": "/dev/disk/by-id/ata-Samsung_SSD_860_EVO_500GB_S3Z1NB0K000000A", "size": "465Gi", "type": "ssd", "use": "system"},
            {"path": "/dev/disk/by-id/usb-SanDisk_Cruzer_Blade_4C530001230101112345-0:0", "size": "14Gi", "type": "usb", "use": "none"},
        ],
        "gpus": [{"vendor": "nvidia"}],
        "devices": [{"name": "zwave", "type": "zwave", "path": "/dev/serial/by-id/usb-Zooz_800_Z-Wave_Stick_533D004242-if00"}],
    }
    assert "battery BAT0" in out
    assert "holds / (and /boot/efi, swap)" in out
    assert "mounted at /media/me/MY STICK" in out
    assert "enp0s31f6 also has fd00:0:0:50::12/64" in out  # stable IPv6 from if_inet6; the temporary one is skipped
    assert "a1b2" not in out
    assert "# other NIC: wlp3s0 (wifi) mac a0:51:0b:00:00:02, 10.0.0.23/24" in out
    assert "also a GPU: 0000:00:02.0 8086:5917 (intel)" in out
    assert err == ""


def test_vm_overrides_and_missing_facts(tmp_path: Path) -> None:
    """A QEMU VM with a virtio disk, no network facts: profile vm, --machine and --name win, address is a FIXME."""
    m = FakeMachine(tmp_path / "vm")
    m.files(
        {
            "/proc/sys/kernel/hostname": "ubuntu\n",
            "/proc/meminfo": "MemTotal:        5020000 kB\n",
            "/sys/class/dmi/id/sys_vendor": "QEMU\n",
            "/sys/class/dmi/id/product_name": "Standard PC (Q35 + ICH9, 2009)\n",
            "/sys/class/power_supply/BAT0/type": "Battery\n",  # QEMU can fake one; still a VM
            "/proc/self/mountinfo": "22 1 0:31 / / rw - btrfs /dev/vda2 rw,subvol=/@\n",
        }
    )
    m.block("vda", "253:0", 64 * GIB_SECTORS, rotational=1, partitions=(("vda1", 2048), ("vda2", 64 * GIB_SECTORS - 4096)))
    out, err = run_probe(m.root, "--machine", "aarch64", "--name", "Build VM")
    assert "address: FIXME" in out
    assert "no default route" in err and "is not a DNS label" in err
    entry = parse_entry(out)
    assert entry["name"] == "build-vm"
    assert entry["profile"] == "vm"
    assert entry["arch"] == "arm64"
    assert entry["memory"] == "5Gi"
    assert entry["bootMedium"] == "ssd"
    assert entry["disks"] == [{"path": "/dev/vda", "size": "64Gi", "type": "ssd", "use": "system"}]
    assert "os" not in entry and "mac" not in entry and "cpu" not in entry
    entry["address"] = "192.168.1.20"
    assert_valid(entry)


def test_network_root_and_empty_tree(tmp_path: Path) -> None:
    m = FakeMachine(tmp_path / "nfs")
    m.files({"/proc/self/mountinfo": "22 1 0:20 / / rw - nfs4 192.168.1.5:/export/pi3 rw\n", "/proc/device-tree/model": "Raspberry Pi 3 Model B Plus Rev 1.3\x00"})
    entry = parse_entry(run_probe(m.root)[0])
    assert entry["bootMedium"] == "network" and entry["profile"] == "rpi3" and entry["name"] == "node"
    empty = tmp_path / "empty"
    empty.mkdir()
    out, _ = run_probe(empty)
    assert parse_entry(out) == {"name": "node", "address": "FIXME", "profile": "generic"}


def test_indent_zero_and_paste_under_nodes(minipc: Path) -> None:
    out, _ = run_probe(minipc, "--indent", "0")
    assert out.splitlines()[1].startswith("- name: minipc")
    pasted = "nodes:\n" + run_probe(minipc)[0]
    assert yaml.safe_load(pasted)["nodes"][0]["name"] == "minipc"


# --------------------------------------------------------------------------
# Helpers, through the module itself


@pytest.mark.parametrize(
    "kib, expected",
    [
        (948304, "1Gi"),  # Raspberry Pi 3
        (443000, "512Mi"),  # Pi Zero 2 W
        (1893000, "2Gi"),
        (3884360, "4Gi"),
        (7999684, "8Gi"),
        (16248632, "16Gi"),
        (32562000, "32Gi"),
        (12100000, "12Gi"),
        (5020000, "5Gi"),  # a 5 GiB VM is not rounded up to 6Gi
        (20200000, "20Gi"),
        (1400000, "1.5Gi"),
        (1300000, "1280Mi"),  # too far below 1.5Gi: rounded up to 256Mi instead
    ],
)
def test_format_memory(kib: int, expected: str) -> None:
    assert load_probe_module().format_memory(kib) == expected


@pytest.mark.parametrize(
    "size, expected",
    [(1953525168 * 512, "931Gi"), (7814037168 * 512, "3.6Ti"), (2 * 1024**4, "2Ti"), (300 * 1024**2, "300Mi"), (62333952 * 512, "29Gi")],
)
def test_format_disk_size(size: int, expected: str) -> None:
    assert load_probe_module().format_disk_size(size) == expected


@pytest.mark.parametrize(
    "value",
    ["yes", "no", "on", "null", "true", "1e3", "0x10", "12:34:56", "b8:27:eb:00:00:21", "fd00::1", "- x", "#x", "a: b", "", "ünïcode", "😀", "2024-01-01", "*ref", "1.5"],
)
def test_yaml_scalar_round_trips(value: str) -> None:
    probe = load_probe_module()
    assert yaml.safe_load("k: " + probe.yaml_scalar(value)) == {"k": value}


def test_serial_device_classification(tmp_path: Path) -> None:
    m = FakeMachine(tmp_path / "sticks")
    ids = {
        "usb-dresden_elektronik_ingenieurtechnik_GmbH_ConBee_II_DE2464000-if00": "zigbee",
        "usb-Nabu_Casa_SkyConnect_v1.0_9e2adbd75b8beb119fe564a0f320645d-if00-port0": "zigbee",
        "usb-Texas_Instruments_TI_CC2652R1_LAUNCHXL_L4100000-if00": "zigbee",
        "usb-Silicon_Labs_Zooz_ZST10_700_Z-Wave_Stick_0001-if00-port0": "zwave",
        "usb-0658_0200-if00": "zwave",
        "usb-Aeotec_Z-Stick_7-if00": "zwave",
        "usb-Silicon_Labs_HubZ_Smart_Home_Controller_C0F003D1-if00-port0": "zwave",
        "usb-Silicon_Labs_HubZ_Smart_Home_Controller_C0F003D1-if01-port0": "zigbee",
        "usb-Prolific_Technology_Inc._USB-Serial_Controller-if00-port0": "serial",
    }
    for link in ids:
        m.link(f"/dev/serial/by-id/{link}", "/dev/ttyUSB0")
    entry = parse_entry(run_probe(m.root)[0])
    got = {d["path"].rsplit("/", 1)[1]: d["type"] for d in entry["devices"]}
    assert got == ids
    names = [d["name"] for d in entry["devices"]]
    assert len(set(names)) == len(names)
    assert {"zigbee", "zigbee-2", "zigbee-3", "zigbee-4", "zwave", "zwave-2", "zwave-3", "zwave-4"} <= set(names)
    entry["address"] = "192.168.1.9"
    assert_valid(entry)


# --------------------------------------------------------------------------
# Standalone: standard library only, old-Python grammar


def test_imports_only_the_standard_library() -> None:
    tree = ast.parse(PROBE.read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in probe.py"
            modules.add(node.module.split(".")[0])
    assert modules - {"__future__"} <= set(sys.stdlib_module_names), modules - set(sys.stdlib_module_names)
    assert "generator" not in modules


def test_grammar_runs_on_python_3_7() -> None:
    ast.parse(PROBE.read_text(), feature_version=(3, 7))


def test_runs_on_this_machine() -> None:
    """The real / (whatever the test host is): it must not crash and must print one YAML entry."""
    done = subprocess.run([sys.executable, "-I", "-S", str(PROBE)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    entry = parse_entry(done.stdout)
    assert entry["name"] and entry["profile"]


def test_root_from_proc_mounts_and_cmdline(rpi4: Path) -> None:
    """Without mountinfo, /proc/mounts says only /dev/root: the kernel command line's root=PARTUUID= finds the disk."""
    (rpi4 / "proc/self/mountinfo").unlink()
    (rpi4 / "proc/mounts").write_text("/dev/root / ext4 rw,noatime 0 0\n/dev/mmcblk0p1 /boot/firmware vfat rw 0 0\n")
    entry = parse_entry(run_probe(rpi4)[0])
    assert entry["bootMedium"] == "sd"
    assert [d["use"] for d in entry["disks"]] == ["system", "none"]
    assert entry["disks"][0]["path"] == "/dev/disk/by-id/mmc-SC32G_0x1234abcd"
