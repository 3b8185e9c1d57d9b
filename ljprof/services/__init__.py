"""Services ljprof ships for profiles: fakes of what targets talk to (see profiles.yml, services:)."""
