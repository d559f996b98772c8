"""Posting kits: what a researcher pastes into each platform to post a wave.

* Mechanical Turk: the ExternalQuestion XML (MTurk opens our landing page in an
  iframe, appending ``workerId``, ``assignmentId``, ``hitId`` and
  ``turkSubmitTo``) and the parameters of the ``create_hit`` call (boto3's
  ``mturk.create_hit(**params)``), restricted to workers whose locale is the
  study's country with the built-in Locale qualification.
* Prolific: a study payload for ``POST /api/v1/studies/`` whose URL carries
  the ``{{%PROLIFIC_PID%}}``, ``{{%STUDY_ID%}}`` and ``{{%SESSION_ID%}}``
  placeholders and whose completion code is the wave's.
* Clickworker and the rest: the link (with the ID parameter the platform fills
  in) and instructions on the completion code.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from crowdcensus.collect.models import Study, Wave

# Amazon's built-in qualification type "Worker_Locale".
MTURK_LOCALE_QUALIFICATION = "00000000000000000071"
EXTERNAL_QUESTION_NS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/"
    "2006-07-14/ExternalQuestion.xsd"
)
ESTIMATED_MINUTES = 3


def worker_link(base_url: str, wave: Wave) -> str:
    """The URL workers of ``wave`` open (without platform parameters)."""
    return f"{base_url.rstrip('/')}/w/{wave.public_id}"


def platform_link(base_url: str, wave: Wave) -> str:
    """The link as posted on the wave's platform, with its ID parameter template."""
    link = worker_link(base_url, wave)
    if wave.platform == "prolific":
        return (f"{link}?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}&STUDY_ID={{{{%STUDY_ID%}}}}"
                f"&SESSION_ID={{{{%SESSION_ID%}}}}")
    if wave.platform == "clickworker":
        return f"{link}?user_id=%%USER_ID%%"
    if wave.platform == "mturk":
        return link  # MTurk appends its own parameters to the ExternalURL.
    return f"{link}?id=PARTICIPANT_ID"


def _duration_seconds(wave: Wave, default: int = 7 * 86400) -> int:
    if wave.opens_at and wave.closes_at and wave.closes_at > wave.opens_at:
        return max(60, int((wave.closes_at - wave.opens_at).total_seconds()))
    return default


def mturk_kit(base_url: str, study: Study, wave: Wave) -> dict[str, Any]:
    """ExternalQuestion XML and ``create_hit`` parameters for a Mechanical Turk wave."""
    url = escape(worker_link(base_url, wave))
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ExternalQuestion xmlns="{EXTERNAL_QUESTION_NS}">\n'
        f"  <ExternalURL>{url}</ExternalURL>\n"
        "  <FrameHeight>0</FrameHeight>\n"
        "</ExternalQuestion>\n"
    )
    notes = ["Run with boto3: client('mturk').create_hit(**create_hit); use the sandbox "
             "endpoint first."]
    if wave.currency.upper() != "USD":
        notes.append(f"MTurk pays in USD; the wave's reward is in {wave.currency}.")
    params = {
        "Title": f"Short survey about online micro-work ({ESTIMATED_MINUTES} minutes)",
        "Description": "A few questions about how you work on online task platforms.",
        "Keywords": "survey, research, questionnaire",
        "Reward": f"{wave.reward_cents / 100:.2f}",
        "MaxAssignments": wave.target_responses,
        "LifetimeInSeconds": _duration_seconds(wave),
        "AssignmentDurationInSeconds": 30 * 60,
        "AutoApprovalDelayInSeconds": 3 * 86400,
        "RequesterAnnotation": f"crowdcensus study {study.id} wave {wave.label}",
        "Question": xml,
        "QualificationRequirements": [{
            "QualificationTypeId": MTURK_LOCALE_QUALIFICATION,
            "Comparator": "EqualTo",
            "LocaleValues": [{"Country": study.country}],
            "ActionsGuarded": "DiscoverPreviewAndAccept",
        }],
    }
    return {"platform": "mturk", "external_question": xml, "create_hit": params,
            "notes": notes}


def prolific_kit(base_url: str, study: Study, wave: Wave) -> dict[str, Any]:
    """Payload of Prolific's create-study call for a Prolific wave."""
    payload = {
        "name": "Short survey about online micro-work",
        "internal_name": f"crowdcensus {study.title} / {wave.label}",
        "description": "A few questions about how you work on online task platforms.",
        "external_study_url": platform_link(base_url, wave),
        "prolific_id_option": "url_parameters",
        "completion_codes": [{
            "code": wave.platform_completion_code,
            "code_type": "COMPLETED",
            "actions": [{"action": "MANUALLY_REVIEW"}],
        }],
        "total_available_places": wave.target_responses,
        "estimated_completion_time": ESTIMATED_MINUTES,
        "reward": wave.reward_cents,
        "device_compatibility": ["desktop", "tablet", "mobile"],
    }
    notes = [f"Add a 'current country of residence' filter for {study.country} in Prolific "
             "before publishing.",
             "Participants are sent back to Prolific with this completion code when they "
             "finish."]
    return {"platform": "prolific", "study": payload, "notes": notes}


def generic_kit(base_url: str, study: Study, wave: Wave) -> dict[str, Any]:
    """Link and completion-code instructions for Clickworker and other platforms."""
    link = platform_link(base_url, wave)
    if wave.platform == "clickworker":
        how = ("In the Clickworker job, use this link; Clickworker replaces %%USER_ID%% "
               "with the worker's ID (set the placeholder your account manager gives you).")
    else:
        how = ("Post this link; replace PARTICIPANT_ID with the platform's worker ID "
               "placeholder, or drop ?id=... and workers type their ID themselves.")
    return {
        "platform": wave.platform,
        "link": link,
        "instructions": [
            how,
            "At the end each worker sees a completion code unique to their response; "
            "ask them to paste it into the platform's answer field.",
            "Match codes against the export (completion_code column) before approving.",
        ],
    }


def kit_warnings(base_url: str, wave: Wave) -> list[str]:
    """What the researcher must fix or know before posting the wave."""
    warnings = []
    if not base_url.lower().startswith("https://"):
        what = ("Mechanical Turk refuses an ExternalURL that is not https" if
                wave.platform == "mturk" else "platforms and browsers expect https")
        warnings.append(f"The worker link is not https ({base_url}): {what}. Put the service "
                        "behind an HTTPS proxy and start it with --public-url https://...")
    warnings.append(f"The task closes itself after {wave.target_responses} completed "
                    "responses (target_responses): later workers see a polite 'this task is "
                    "full' page. Set the platform's number of places to the same number.")
    return warnings


def posting_kit(base_url: str, study: Study, wave: Wave) -> dict[str, Any]:
    """The kit for the wave's platform, with the worker link and warnings."""
    if wave.platform == "mturk":
        kit = mturk_kit(base_url, study, wave)
    elif wave.platform == "prolific":
        kit = prolific_kit(base_url, study, wave)
    else:
        kit = generic_kit(base_url, study, wave)
    kit["worker_link"] = worker_link(base_url, wave)
    kit["wave"] = wave.label
    kit["study_id"] = study.id
    kit["warnings"] = kit_warnings(base_url, wave)
    return kit
