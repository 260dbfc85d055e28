-- One index fewer to write per span (issue 14), as SQLite's migration 10: the unique key starts
-- with the trace, so it both refuses a span sent twice (`ON CONFLICT (project_id, trace_id,
-- span_id)` infers it: the same columns) and finds a trace's or a segment's spans, which were
-- all `spans_trace_segment` served.
DROP INDEX spans_trace_segment;
DROP INDEX spans_project_trace_span;
CREATE UNIQUE INDEX spans_trace_project_span ON spans (trace_id, project_id, span_id);
