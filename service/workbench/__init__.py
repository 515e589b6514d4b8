"""The staff workbench: server-rendered pages for inspectors, reviewers and admins, behind
a sign-in (sessions, second factor, CSRF: decision 0027). Its pages hold no rules: each
action calls the same domain functions as the API, as the session's actor."""
