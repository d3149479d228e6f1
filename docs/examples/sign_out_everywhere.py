"""An admin's "sign this person out everywhere", beside the person's own session endpoints."""

from fastapi import APIRouter, HTTPException

from kavach_fastapi import CurrentUser, KavachRouter


def admin_routes(kavach: KavachRouter, *, admins: set[str]) -> APIRouter:
    """Routes for the people whose verified email is in ``admins``."""
    router = APIRouter(prefix="/admin")

    @router.post("/users/{user_id}/sign-out-everywhere")
    async def sign_out_everywhere(
        user_id: str, admin: CurrentUser
    ) -> dict[str, int]:
        """End every session of a user: a lost laptop, a person leaving the team."""
        if not (admin.email_verified and admin.email in admins):
            raise HTTPException(status_code=403, detail="Only admins may do this.")
        ended = await kavach.kavach.end_user_sessions(user_id)
        return {"ended": ended}

    return router
