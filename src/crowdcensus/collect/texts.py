"""Words of the worker pages, in English and French."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Survey about online micro-work",
        "intro": "We are researchers studying how many people do paid tasks on online "
                 "platforms. This survey takes about 3 minutes.",
        "consent_title": "Before you start",
        "consent_body": "Your answers are used only for research and published only as "
                        "statistics. We do not keep your platform ID: it is replaced by a "
                        "code that cannot be traced back to you without a key kept "
                        "separately. You can stop at any time, and ask for your answers to "
                        "be deleted through the platform's messaging.",
        "consent_accept": "I agree to take part",
        "consent_decline": "I do not wish to take part",
        "declined": "Thank you. You chose not to take part: nothing was recorded. "
                    "Please return the task on the platform.",
        "preview": "This is a preview. Accept the task to start the survey; nothing is "
                   "recorded until then.",
        "identify": "Enter the worker ID the platform gave you.",
        "identify_label": "Your worker ID",
        "continue": "Continue",
        "submit": "Submit my answers",
        "fix_errors": "Some answers need your attention.",
        "select": "Choose…",
        "hours_hint": "A number, e.g. 5",
        "per_month": "per month",
        "done_title": "Thank you!",
        "your_code": "Your completion code:",
        "paste_code": "Copy this code into the platform to get paid.",
        "mturk_submit": "Submit the HIT to Mechanical Turk",
        "mturk_hint": "Click the button to finish and send your work to Mechanical Turk.",
        "prolific_back": "Back to Prolific",
        "closed": "This task is closed.",
        "not_open": "This task is not open yet.",
        "language": "Français",
        "error": "Error",
    },
    "fr": {
        "title": "Enquête sur le micro-travail en ligne",
        "intro": "Nous sommes des chercheurs qui étudient combien de personnes font des "
                 "tâches rémunérées sur des plateformes en ligne. Ce questionnaire prend "
                 "environ 3 minutes.",
        "consent_title": "Avant de commencer",
        "consent_body": "Vos réponses servent uniquement à la recherche et ne sont publiées "
                        "que sous forme de statistiques. Nous ne conservons pas votre "
                        "identifiant de plateforme : il est remplacé par un code qu'on ne "
                        "peut relier à vous sans une clé conservée à part. Vous pouvez "
                        "arrêter à tout moment et demander l'effacement de vos réponses via "
                        "la messagerie de la plateforme.",
        "consent_accept": "J'accepte de participer",
        "consent_decline": "Je ne souhaite pas participer",
        "declined": "Merci. Vous avez choisi de ne pas participer : rien n'a été "
                    "enregistré. Merci de rendre la tâche sur la plateforme.",
        "preview": "Ceci est un aperçu. Acceptez la tâche pour commencer ; rien n'est "
                   "enregistré d'ici là.",
        "identify": "Saisissez l'identifiant que la plateforme vous a donné.",
        "identify_label": "Votre identifiant",
        "continue": "Continuer",
        "submit": "Envoyer mes réponses",
        "fix_errors": "Certaines réponses sont à revoir.",
        "select": "Choisir…",
        "hours_hint": "Un nombre, par ex. 5",
        "per_month": "par mois",
        "done_title": "Merci !",
        "your_code": "Votre code de fin :",
        "paste_code": "Copiez ce code sur la plateforme pour être payé·e.",
        "mturk_submit": "Envoyer la tâche à Mechanical Turk",
        "mturk_hint": "Cliquez sur le bouton pour terminer et envoyer votre travail à "
                      "Mechanical Turk.",
        "prolific_back": "Retour à Prolific",
        "closed": "Cette tâche est close.",
        "not_open": "Cette tâche n'est pas encore ouverte.",
        "language": "English",
        "error": "Erreur",
    },
}
