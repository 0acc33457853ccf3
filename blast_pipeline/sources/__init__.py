"""External services (survey image servers, catalogues, redshift services, TNS) and the
simulated sky that stands in for them, behind the same interfaces (see ``base``)."""
