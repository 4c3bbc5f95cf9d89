"""The outcomes report for commissioners, and events for GP records.

    figures.py    the figures, worked out from milestones alone (pure)
    stats.py      median, 90th percentile, a mean's 95% confidence interval
    disclosure.py small numbers: "<5", and never recoverable by subtraction
    published.py  the figures as printed: protected, in words, for HTML and CSV
    charts.py     matplotlib charts (Agg), embedded as PNG
    render.py     the HTML (messages/en/report/report.html.j2) and the CSV
    events.py     SNOMED-coded events for GP records
    periods.py    the period a report covers, and the one before it
    reading.py    the figures from the database: worked out now, or each night and kept
    command.py    `spbot report` and `spbot export-events`
    demo.py       made-up milestones for `make report-demo`
    screenshot.py a headless Chromium screenshot of a report

Only the store reads the database: this package asks `bot.store.milestones`.
"""
