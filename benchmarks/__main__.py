import importlib
import sys

names = ["actors", "api", "hosts", "ha", "deploy", "storm"]
if len(sys.argv) < 2 or sys.argv[1] not in names:
    sys.exit(f"usage: ./dev bench {{{'|'.join(names)}}} [options]")
mod = importlib.import_module(f"benchmarks.{sys.argv[1]}")
sys.exit(mod.main(sys.argv[2:]))
