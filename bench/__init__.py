"""`make bench`: the service against reference points, measured with wrk in one run."""
