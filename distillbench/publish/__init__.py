"""The publish stage: results files in, a static leaderboard site out.

Takes suite results (`<workspace>/suites/<suite>/results.json`), submission results (`leaderboard/results/`) with
their `submissions/<slug>/submission.yaml`, and the repository's prose (CONTRIBUTING.md, dataset cards); produces a
folder of static HTML, CSS, JS, inline SVG plots and CSV/JSON downloads that works from disk or any static host,
under any sub-path, with no external requests. Modules, in the order the build uses them:

    entries.py   the adapter from results files to `Entry` (one method version on one suite split)
    suites.py    what the suite pages show: conditions with counts, models, dataset card, real-model registry
    compare.py   paired comparisons across the entries of one suite split: rank ranges, tie groups, the matrix, the
                 minimum detectable difference (the scorer's `paired_analysis` over per-pair scores joined on pair id)
    table.py     leaderboard columns, sort orders and filters, shared by the pre-rendered views and site.js
    plots.py     ROC curves, method x condition heatmap (share flagged at the global threshold), AUROC versus query
                 cost, as deterministic SVG
    markdown.py  markdown to HTML with raw HTML escaped and external images dropped
    build.py     renders the templates in `site/templates` and copies `site/static`
    cli.py       `distillbench site build`
"""
