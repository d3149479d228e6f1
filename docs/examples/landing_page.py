"""The page people land on after signing in, which also explains a sign-in that failed."""

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from kavach_fastapi import ErrorCode, OptionalUser

router = APIRouter()

MESSAGES = {
    ErrorCode.ACCESS_DENIED: "You declined to share your Atlassian account, so you are not signed in.",
    ErrorCode.SIGN_IN_EXPIRED: "Signing in took too long. Please try again.",
    ErrorCode.ACCOUNT_DISABLED: "This Atlassian account is closed or deactivated.",
}
SIGN_IN = '<a href="/api/kavach/auth/oauth/authorize/atlassian?redirect_to=/">Sign in with Atlassian</a>'


@router.get("/", response_class=HTMLResponse)
async def home(user: OptionalUser, error: str | None = None) -> str:
    """Who is signed in, or why signing in did not work, and a button to try."""
    if user is not None:
        return f"<p>Signed in as {escape(user.name or user.email or user.id)}.</p>"
    if error is None:
        return f"<p>Welcome.</p>{SIGN_IN}"
    try:
        message = MESSAGES.get(
            ErrorCode(error), "Signing in did not work. Please try again."
        )
    except ValueError:  # not one of ours: never echo what a URL says
        message = "Signing in did not work. Please try again."
    return f"<p>{escape(message)}</p>{SIGN_IN}"
