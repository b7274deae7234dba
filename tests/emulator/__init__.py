"""A local HTTPS emulator of Entra ID, the Microsoft Defender for Endpoint API and Graph hunting.

Used by the tests, the demo and the benchmarks of the defender.atp collection; never shipped in it.
See README.md for the command line, the control API and the default tenant.
"""

__version__ = "1.0.0"
