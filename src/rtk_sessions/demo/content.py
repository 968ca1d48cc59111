"""Content for the demo data generator (`rtk_sessions.demo.events`): word lists and device profiles
(the `peer.stats` model is `rtk_sessions.demo.telemetry`)."""

from __future__ import annotations

import random
import uuid
from typing import Any, Final

# kind -> (session_type, preset_view_type, host preset, participant preset, room_view_type)
KINDS: Final[dict[str, tuple[str, str, str, str, str]]] = {
    "group_call": (
        "meeting",
        "GROUP_CALL",
        "group_call_host",
        "group_call_participant",
        "groupCall",
    ),
    "webinar": ("meeting", "WEBINAR", "webinar_presenter", "webinar_viewer", "webinar"),
    "livestream": (
        "livestream",
        "LIVESTREAM",
        "livestream_host",
        "livestream_viewer",
        "livestream",
    ),
    "audio_room": ("meeting", "AUDIO_ROOM", "audio_room_host", "audio_room_listener", "audioRoom"),
}

MEETING_TITLES: Final[dict[str, tuple[str, ...]]] = {
    "group_call": (
        "Weekly sync",
        "Design review",
        "Customer onboarding — Acme",
        "Sprint planning",
        "Daily standup",
        "1:1 Priya / Marco",
        "Architecture deep dive",
        "Incident retro: checkout latency",
        "Customer onboarding — Globex",
        "Hiring panel — Backend",
        "Marketing standup",
        "Board prep",
        "Q3 roadmap review",
        "Support escalation triage",
        "Platform guild",
        "Design crit — mobile app",
        "Sales pipeline review",
        "Lunch & learn",
        "Security office hours",
        "Data platform sync",
        "Partner check-in — Initech",
        "Finance month-end close",
        "API working group",
        "Équipe Paris — point hebdo",
        "Growth experiments",
        "Release readiness",
        "Customer advisory board",
        "Infra on-call handover",
        "Brand refresh workshop",
        "Engineering all-hands",
    ),
    "webinar": (
        "Product webinar: what's new in v4",
        "Admin onboarding webinar",
        "Customer town hall",
        "Security best practices (EMEA)",
    ),
    "livestream": ("Company all-hands (live)", "Launch event — live", "Tech talk: scaling WebRTC"),
    "audio_room": ("Open mic Friday", "Coffee chat ☕", "Founders AMA"),
}

SPECIAL_NAMES: Final[tuple[str, ...]] = (
    "José Álvarez",
    "Zoë Müller",
    "李雷",
    "韩梅梅",
    "Siobhán O'Connor",
    "François Lefèvre",
    "Björn Åkesson",
    "Łukasz Wiśniewski",
    "Nguyễn Thị Lan",
    "Ólafur Sigurðsson",
    "佐藤 花子",
    "김민준",
    "Дмитрий Соколов",
    "Αλέξης Παπαδόπουλος",
    "فاطمة الزهراء",
    "Chloé Dubois",
    "Ngozi Okonkwo",
    "Priya Raghunathan",
    "Marco Rossi",
    "Aroha Ngata",
    "Søren Dahl",
    "Mariana da Conceição",
    "Jürgen Weiß",
    "Renée-Claire Tremblay",
    "Kwame Mensah",
)
FIRST_NAMES: Final[tuple[str, ...]] = (
    "Alice",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hiroshi",
    "Ines",
    "Jamal",
    "Keiko",
    "Liam",
    "Maya",
    "Noah",
    "Olivia",
    "Pedro",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Valeria",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zara",
    "Anika",
    "Mateo",
    "Leah",
    "Omar",
)
LAST_NAMES: Final[tuple[str, ...]] = (
    "Anderson",
    "Bianchi",
    "Chen",
    "Dubois",
    "Evans",
    "Fischer",
    "García",
    "Hansen",
    "Ito",
    "Johnson",
    "Kowalski",
    "Lopez",
    "Martin",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quintero",
    "Reyes",
    "Schmidt",
    "Tanaka",
    "Usman",
    "Varga",
    "Williams",
    "Xu",
    "Yilmaz",
    "Zhang",
)

CHAT_MESSAGES: Final[tuple[str, ...]] = (
    "Hi all 👋",
    "Can everyone see my screen?",
    "You're on mute 🙂",
    "Sorry, joining from my phone, audio might be patchy",
    "+1",
    'Quick question: does "done" include the docs, or just the code?',
    "Agenda:\n1. Status\n2. Blockers\n3. Next steps",
    "Link to the doc: https://docs.example.com/d/42",
    "Thanks, that was really helpful! 🙏",
    "I'll take the action item for the API changes",
    "Dropping in 5 min, have a hard stop",
    "Can we revisit this next week?",
    "Numbers for Q3: revenue 1,240k, churn 2.1%, NPS 47",
    "🎉🎉🎉",
    "Great point, Zoë — let's capture that in the notes",
    "Lo siento, llego tarde 🙈",
    'He said "ship it" — so we ship it 🚀',
    "Recording link will be shared after the call",
    "brb, coffee ☕",
    "My connection is unstable, switching to audio only",
    "Notes:\n- migrate staging first\n- then prod, Tuesday\n- rollback plan in the runbook",
    "Could you share the slides?",
    "Is this being recorded?",
    "👍",
    "Following up offline, thanks",
    "Which region is affected, EU, US, or both?",
    "LGTM, approved ✅",
    "Happy Friday! 🥳",
    "Can you repeat the last part? It cut out",
    "I think we're double-counting the trial users",
    "Let's timebox this to 10 minutes ⏱️",
    "Merci à tous !",
    "谢谢大家",
    "Bis später 👋",
)
CHAT_EDIT_SUFFIX: Final[str] = " (edited: fixed typo)"
CHAT_IMAGES: Final[tuple[str, ...]] = (
    "https://files.example.com/demo/screenshot-dashboard.png",
    "https://files.example.com/demo/whiteboard-photo.jpg",
)
CHAT_FILES: Final[tuple[str, ...]] = (
    "https://files.example.com/demo/Q3-plan.pdf",
    "https://files.example.com/demo/onboarding-checklist.xlsx",
)

TRANSCRIPT_SENTENCES: Final[tuple[str, ...]] = (
    "Okay, let's get started, I think most people are here.",
    "Can everyone hear me all right?",
    "So the main thing this week is the migration to the new billing service.",
    "We finished the first pass of the design and we'd love some feedback.",
    "I think the latency numbers look much better since the last deploy.",
    "The customer asked whether we can support single sign-on by the end of the quarter.",
    "Let me share my screen so you can see the dashboard.",
    "We're still blocked on the security review for the new endpoint.",
    "I'd suggest we split this into two smaller tickets.",
    "Does anyone have concerns about the timeline?",
    "The error rate spiked around two o'clock and then recovered on its own.",
    "Let's park that and come back to it at the end.",
    "Action item for me: write up the rollout plan and circulate it by Thursday.",
    "I spoke to the Acme team yesterday and they're happy with the pilot.",
    "Sorry, I was on mute. I was saying that the numbers look right to me.",
    "Can you go back one slide?",
    "We should probably loop in the data team on this one.",
    "The onboarding flow has too many steps, people drop off at step three.",
    "I'll follow up with legal about the contract wording.",
    "Great, thanks everyone, that's all we have time for today.",
    "Next week we'll review the results of the experiment.",
    "Just to confirm, the release is still planned for Tuesday?",
    "I think we need more test coverage before we ship this.",
    "The new hire starts on Monday, so let's make sure the laptop is ready.",
    "Question from the chat: will the recording be shared afterwards?",
    "Yes, we'll send the recording and the slides to everyone who registered.",
    "Welcome everyone, and thanks for joining us today.",
    "Let me hand it over to Priya for the product demo.",
    "We saw a twenty percent increase in weekly active users.",
    "If you have questions, please drop them in the chat.",
)

# (user agent, device_info)
DEVICES: Final[tuple[tuple[str, dict[str, Any]], ...]] = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        {"cpus": 8, "is_mobile": False, "os": "Windows", "os_version": "10"},
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/125.0.0.0 Safari/537.36",
        {"cpus": 10, "is_mobile": False, "os": "macOS", "os_version": "10.15.7"},
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
        {"cpus": 16, "is_mobile": False, "os": "Linux", "os_version": "x86_64"},
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        {"cpus": 4, "is_mobile": False, "os": "Windows", "os_version": "10"},
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4.1 Safari/605.1.15",
        {"cpus": 8, "is_mobile": False, "os": "macOS", "os_version": "10.15.7"},
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        {"cpus": 6, "is_mobile": True, "os": "iOS", "os_version": "17.5"},
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.6367.179 Mobile Safari/537.36",
        {"cpus": 9, "is_mobile": True, "os": "Android", "os_version": "14"},
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
        {"cpus": 12, "is_mobile": False, "os": "Windows", "os_version": "10"},
    ),
)
AUDIO_DEVICES: Final[tuple[str, ...]] = (
    "MacBook Pro Microphone (Built-in)",
    "Jabra Evolve2 65",
    "AirPods Pro",
    "Default - Microphone Array",
)
NETWORK_TYPES: Final[tuple[str, ...]] = ("4g", "4g", "4g", "3g", "wifi")

# (name, metadata) of `peer.event`s; metadata values are scalars
PEER_EVENTS: Final[tuple[tuple[str, dict[str, Any]], ...]] = (
    ("audio_off", {"source": "user"}),
    ("audio_on", {"source": "user"}),
    ("video_off", {"source": "user"}),
    ("video_on", {"source": "user"}),
    ("tab_backgrounded", {"is_meetings_tab_active": False}),
    ("tab_foregrounded", {"is_meetings_tab_active": True}),
    ("screenshare_started", {"display_surface": "monitor"}),
    ("ice_restart", {"reason": "network_change", "attempt": 1}),
)
LEAVE_REASONS: Final[tuple[str, ...]] = ("PEER_LEFT", "PEER_LEFT", "PEER_LEFT", "TAB_CLOSED")
TEAMS: Final[tuple[str, ...]] = ("engineering", "design", "sales", "support", "marketing", "ops")


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
