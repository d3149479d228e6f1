"""The HTTP edge: cookies, what a request says, and how errors are answered.

Only the router, the dependencies and the runtime's error handler use it; nothing below them
sees a request.
"""
