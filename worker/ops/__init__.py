"""Operations edges: Prometheus metrics, structured logs, the embedded Redis, dead letters
(list, requeue) and the configuration table. Used by the runtime and the CLI; they import the
model, settings, store and (dead letters) the sources stage's file reading, never the runtime."""
