"""The VectorCluster kind: its model, names, pure builders, ordered steps and reconcile, whatever
the database. Everything one engine does differently is behind `engine.Engine`, one folder per
engine under `engines/`, chosen by `spec.engine`."""
