"""The Atlassian side: its sites, its product APIs, and the dependencies and routes about them.

Everything that knows what an Atlassian site or product API is lives here; the generic modules
(sessions, tokens, the router) know providers only as [`OAuthProvider`][kavach_fastapi.OAuthProvider].
"""
