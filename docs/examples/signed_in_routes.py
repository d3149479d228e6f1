"""Routes for signed-in people only, for everybody, and a router that is private as a whole."""

from fastapi import APIRouter, Depends

from kavach_fastapi import CurrentUser, OptionalUser, User, current_user

router = APIRouter()


@router.get("/profile")
async def profile(user: CurrentUser) -> User:
    """Only for signed-in people: anybody else gets 401 with the code `not_signed_in`."""
    return user


@router.get("/greeting")
async def greeting(user: OptionalUser) -> dict[str, str]:
    """For everybody: the signed-in person by name, anybody else as a guest."""
    if user is None:
        return {
            "greeting": "Hello, guest. Sign in with Atlassian to see your sites."
        }
    return {"greeting": f"Hello, {user.name or 'there'}."}


# Every route of this router needs a signed-in person, whether or not it asks for the user.
team = APIRouter(prefix="/team", dependencies=[Depends(current_user)])


@team.get("/handbook")
async def handbook() -> dict[str, str]:
    """Private to signed-in people, though it does not need to know who they are."""
    return {"handbook": "https://acme-wiki.atlassian.net/wiki/spaces/HB"}
