"""The demo workspace's people and channels. The demo teams file refers to these ids."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoUser:
    id: str
    name: str  # the handle, as in @alice
    real_name: str
    title: str


@dataclass(frozen=True)
class DemoChannel:
    id: str
    name: str  # without '#'
    topic: str


USERS: tuple[DemoUser, ...] = (
    DemoUser("U0DEMOALICE", "alice", "Alice Moreau", "Fraud-detection lead (approver)"),
    DemoUser("U0DEMOBOB", "bob", "Bob Okafor", "ML engineer, fraud-detection"),
    DemoUser("U0DEMOCARA", "cara", "Cara Lindqvist", "Recommendations lead (approver)"),
    DemoUser("U0DEMODEV", "dev", "Dev Raman", "NLP lead (approver)"),
    DemoUser("U0DEMOERIN", "erin", "Erin Walsh", "FinOps analyst"),
)

CHANNELS: tuple[DemoChannel, ...] = (
    DemoChannel("C0DEMOFRAUD", "fraud-detection-costs", "Costs of the fraud-detection team"),
    DemoChannel("C0DEMORECS", "recommendations-costs", "Costs of the recommendations team"),
    DemoChannel("C0DEMONLP", "nlp-costs", "Costs of the NLP team"),
    DemoChannel("C0DEMOFINOPS", "finops", "Cloud cost for everybody"),
)

TEAM_ID = "T0DEMO"
BOT_USER_ID = "U0COSTBOT"
BOT_ID = "B0COSTBOT"
APP_ID = "A0COSTBOT"
