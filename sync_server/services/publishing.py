"""Publishing by console role (issue 20): the console's publish action checks that the
account is a publisher (or a full administrator) before ``packs.publish_to`` — so a
studio author who posts the publish form by hand is refused and the refusal audited."""

from __future__ import annotations

from sync_server.db.repository import Admin, Publication, Repository
from sync_server.services import packs, roles


def publish_as(*, repo: Repository, actor: Admin, pack_id: str, version: int,
               audience: packs.Audience) -> Publication:
    roles.require_role(repo, actor, roles.PUBLISHER, "pack.publish", f"{pack_id}@{version}")
    return packs.publish_to(repo=repo, pack_id=pack_id, version=version, audience=audience,
                            by=actor.name)
