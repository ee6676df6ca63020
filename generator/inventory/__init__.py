"""Stage 1: read the inventory file into a checked, typed ``Inventory``."""

from .load import load_inventory, load_inventory_text
from .model import App, Disk, Device, ExternalService, Gpu, Inventory, Node

__all__ = [
    "App",
    "Device",
    "Disk",
    "ExternalService",
    "Gpu",
    "Inventory",
    "Node",
    "load_inventory",
    "load_inventory_text",
]
