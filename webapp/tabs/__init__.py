"""The page's tabs, one module each: ``render(ctx)`` builds a tab's components (returning them
as a namespace) and ``listen(components, ctx, …)`` wires their events. The job tabs (single,
batch, course) share one submit → follow → show skeleton (``tabs.job``) and the page's helpers
(``tabs.common``)."""
