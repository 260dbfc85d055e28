-- One index fewer to write per span (issue 14: a 30-span transaction paid three B-tree inserts
-- per span besides the row). The unique key now starts with the trace, so the one index both
-- refuses a span sent twice and finds a trace's spans (`Traces::trace`) and a segment's
-- (`segment_spans`: trace, then project); `spans_trace_segment` served only those two reads.
DROP INDEX spans_trace_segment;
DROP INDEX spans_project_trace_span;
CREATE UNIQUE INDEX spans_trace_project_span ON spans (trace_id, project_id, span_id);
