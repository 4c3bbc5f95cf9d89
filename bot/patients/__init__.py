"""The patients' front door: one message from a patient becomes one transaction.

It stands on `bot.store` and never imports `bot.staff`: what it tells the link
worker side goes through `CaseListener` (bot/patients/listener.py), which the
staff side implements and `bot.app` wires in.
"""

from bot.patients.listener import CaseListener
from bot.patients.service import Handled, Inbound, PatientService

__all__ = ["CaseListener", "Handled", "Inbound", "PatientService"]
