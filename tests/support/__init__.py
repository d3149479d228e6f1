"""The test harness every test folder (and ``bench/``) shares.

* `environment`: a clean process environment (no ``KAVACH_*``/``ATLASSIAN_*``, no ``.env``).
* `apps`: the app under test, built like a user's, with the user routes defined once.
* `browser`: a browser that signs in through the emulator's consent.
* `servers`: an app served for real by uvicorn, with N workers, in a process group.
* `people`: crowds of distinct emulated Atlassian people.
* `redirects`: the corpus of hostile ``redirect_to`` values.
* `transports`: answers between the app and the emulator that no emulator fault gives.
"""
