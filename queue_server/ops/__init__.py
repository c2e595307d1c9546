"""Operations: live figures of the district and each center fed from the event streams, the ops
dashboard's websocket, reports and exports from PostgreSQL, and Prometheus metrics."""
