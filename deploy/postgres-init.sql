-- The two databases of the production profile (deploy/compose.yaml runs this once, on an
-- empty data volume): the Dagster instance's and the Blast database.
CREATE DATABASE blast_dagster;
CREATE DATABASE blast;
