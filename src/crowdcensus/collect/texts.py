"""Words of the worker pages, in English and French.

Every message a worker can meet says what happened in plain words and what to
do next; none is technical. :data:`ERRORS` maps an HTTP status to the message
shown when nothing more precise is known.
"""

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
        "closed": "This task is closed. Thank you for your interest; please return the task "
                  "on the platform.",
        "not_open": "This task is not open yet. Please come back at the time shown on the "
                    "platform.",
        "full": "This task is full: enough people have already answered. Thank you for your "
                "interest; please return the task on the platform.",
        "language": "Français",
        "other_language": "Version française",
        "error": "Error",
        "sorry": "Sorry",
        "run_by": "This survey is run by",
        "contact_us": "Questions, or to have your answers deleted:",
        "if_again": "If this happens again, write to",
        "errors_title": "Please check these answers:",
        "err_missing_id": "The link did not bring your worker ID. Please go back to the "
                          "platform and open the task from there.",
        "err_bad_id": "Your worker ID could not be read from the link. Please go back to the "
                      "platform and open the task again from there.",
        "err_typed_id": "This ID cannot be right: use letters, digits and . _ - @ : + only, "
                        "as the platform shows it. Please type it again.",
        "err_turk": "This page must be opened from Mechanical Turk. Please go back to "
                    "Mechanical Turk and open the task from there.",
        "err_form": "Your answers could not be read. Please go back one page and send them "
                    "again.",
        "err_session": "This page has expired. Please open the task again from the platform; "
                       "if you had already finished, you will see your completion code again.",
        "err_csrf": "This form has expired, or your browser blocks cookies for this site. "
                    "Please allow cookies for this site, then open the task again from the "
                    "platform.",
        "err_not_found": "This task does not exist. Please check that you copied the whole "
                         "link, or open the task again from the platform.",
        "err_method": "This page cannot be reloaded. Please open the task again from the "
                      "platform; if you had already finished, you will see your completion "
                      "code again.",
        "err_too_large": "What was sent is too large. Please go back one page and send your "
                         "answers again.",
        "err_rate": "Too many requests came from your connection in a short time. Please wait "
                    "a minute, then reload the page.",
        "err_server": "Something went wrong on our side. Please wait a minute and try again; "
                      "if you had already finished, you will see your completion code again.",
        "err_unavailable": "We could not save your answers just now. They are still on this "
                           "page: please press the button again in a minute.",
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
        "closed": "Cette tâche est close. Merci de votre intérêt ; merci de rendre la tâche "
                  "sur la plateforme.",
        "not_open": "Cette tâche n'est pas encore ouverte. Merci de revenir à l'heure indiquée "
                    "sur la plateforme.",
        "full": "Cette tâche est complète : assez de personnes ont déjà répondu. Merci de "
                "votre intérêt ; merci de rendre la tâche sur la plateforme.",
        "language": "English",
        "other_language": "English version",
        "error": "Erreur",
        "sorry": "Désolé",
        "run_by": "Cette enquête est menée par",
        "contact_us": "Pour toute question, ou pour faire effacer vos réponses :",
        "if_again": "Si cela se reproduit, écrivez à",
        "errors_title": "Merci de vérifier ces réponses :",
        "err_missing_id": "Le lien n'a pas transmis votre identifiant. Merci de retourner sur "
                          "la plateforme et d'ouvrir la tâche depuis celle-ci.",
        "err_bad_id": "Votre identifiant n'a pas pu être lu dans le lien. Merci de retourner "
                      "sur la plateforme et d'ouvrir à nouveau la tâche depuis celle-ci.",
        "err_typed_id": "Cet identifiant ne peut pas être le bon : il ne contient que des "
                        "lettres, des chiffres et . _ - @ : +, comme l'affiche la plateforme. "
                        "Merci de le saisir à nouveau.",
        "err_turk": "Cette page doit être ouverte depuis Mechanical Turk. Merci d'y retourner "
                    "et d'ouvrir la tâche depuis Mechanical Turk.",
        "err_form": "Vos réponses n'ont pas pu être lues. Merci de revenir à la page "
                    "précédente et de les envoyer à nouveau.",
        "err_session": "Cette page a expiré. Merci d'ouvrir à nouveau la tâche depuis la "
                       "plateforme ; si vous aviez terminé, vous retrouverez votre code de fin.",
        "err_csrf": "Ce formulaire a expiré, ou votre navigateur bloque les cookies de ce "
                    "site. Merci d'autoriser les cookies pour ce site, puis d'ouvrir à "
                    "nouveau la tâche depuis la plateforme.",
        "err_not_found": "Cette tâche n'existe pas. Merci de vérifier que vous avez copié le "
                         "lien en entier, ou d'ouvrir à nouveau la tâche depuis la plateforme.",
        "err_method": "Cette page ne peut pas être rechargée. Merci d'ouvrir à nouveau la "
                      "tâche depuis la plateforme ; si vous aviez terminé, vous retrouverez "
                      "votre code de fin.",
        "err_too_large": "L'envoi est trop volumineux. Merci de revenir à la page précédente "
                         "et d'envoyer à nouveau vos réponses.",
        "err_rate": "Trop de demandes sont venues de votre connexion en peu de temps. Merci "
                    "d'attendre une minute, puis de recharger la page.",
        "err_server": "Un problème est survenu de notre côté. Merci d'attendre une minute et "
                      "de réessayer ; si vous aviez terminé, vous retrouverez votre code de fin.",
        "err_unavailable": "Nous n'avons pas pu enregistrer vos réponses à l'instant. Elles "
                           "sont toujours sur cette page : merci d'appuyer à nouveau sur le "
                           "bouton dans une minute.",
    },
}

#: The message of a worker-facing error page when nothing more precise is known.
ERRORS: dict[int, str] = {
    400: "err_form", 403: "err_csrf", 404: "err_not_found", 405: "err_method",
    410: "closed", 413: "err_too_large", 422: "err_form", 429: "err_rate",
    500: "err_server", 503: "err_unavailable",
}
