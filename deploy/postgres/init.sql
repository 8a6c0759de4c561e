-- First start of the Postgres container: the application's database beside Temporal's
-- (temporal and temporal_visibility are created by the temporal-schema service).
CREATE DATABASE leadwire;
