"""`hotfix postmortem`: one GitHub issue per incident id, labelled post-mortem, however often it runs."""

from __future__ import annotations

from hotfix_actions.decide import postmortem as pm
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.errors import GitHubError
from hotfix_actions.ports import GitHubRepoApi
from hotfix_actions.report import Outcome, Reporter, Row

__all__ = ["LABEL", "run"]

LABEL = "post-mortem"


def run(incident: pm.Incident, github: GitHubRepoApi, reporter: Reporter, *, dry_run: bool = False) -> Outcome:
    body = pm.issue_body(incident)
    title = pm.issue_title(incident)
    if dry_run:
        reporter.add_summary(body)
        reason = "dry run: the issue body is in the step summary; nothing written"
        return Outcome("postmortem", Verdict.PASS, [reason], {"issue-url": ""}, [Row("issue", Status.SKIP, reason)])
    github.ensure_label(LABEL, "b60205", "Post-incident review")
    found = github.find_issue(LABEL, pm.marker(incident.incident_id))
    if found is None:
        created = github.create_issue(title, body, [LABEL])
        if created is None:
            raise GitHubError("no GitHub token: cannot open the post-mortem issue", fix="pass github-token")
        reason = f"opened #{created.number} for {incident.incident_id}: {created.url}"
        number, url, state = created.number, created.url, "created"
    elif pm.needs_update(found.texts, incident):
        github.comment(found.number, pm.update_comment(incident))
        reason = f"#{found.number} exists for {incident.incident_id}; added the updated timeline: {found.url}"
        number, url, state = found.number, found.url, "updated"
    else:
        reason = f"#{found.number} exists for {incident.incident_id} and already has this timeline: {found.url}"
        number, url, state = found.number, found.url, "unchanged"
    reporter.step(reason)
    outputs = {"issue-number": str(number), "issue-url": url, "state": state}
    return Outcome("postmortem", Verdict.PASS, [reason], outputs, [Row("issue", Status.PASS, reason)], "post-mortem")
