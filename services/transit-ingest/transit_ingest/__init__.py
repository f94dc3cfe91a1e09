"""The transit-ingest service: operators' taps in, journeys out."""
