"""Pure science: functions on numpy arrays, astropy tables and WCS. No Dagster, no database."""
