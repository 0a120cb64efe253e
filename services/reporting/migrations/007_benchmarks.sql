-- Benchmarking across authorities (issue 15, services/reporting/benchmarks/): comparator
-- data imported by each tenant (its own copy: DfE's statistical neighbours and published
-- figures, in the shape of services/reporting/benchmarks/lait.py), and the tenants that have
-- opted in to live comparison with the other authorities served by this deployment.
-- None of these tables is a read model: they are not derived from events, and a rebuild
-- leaves them as they are.

-- The authorities of the tenant's statistical-neighbour file, each with its region.
CREATE TABLE {schema}.benchmark_authority (
    tenant       text NOT NULL,
    la_code      text NOT NULL,
    la_name      text NOT NULL,
    region_code  text NOT NULL,
    region_name  text NOT NULL,
    PRIMARY KEY (tenant, la_code)
);

-- Each authority's statistical neighbours, closest first (position 1-10).
CREATE TABLE {schema}.benchmark_neighbour (
    tenant        text NOT NULL,
    la_code       text NOT NULL,
    position      smallint NOT NULL CHECK (position BETWEEN 1 AND 10),
    neighbour     text NOT NULL,
    PRIMARY KEY (tenant, la_code, position)
);

-- Published figures by measure (a code of benchmarks/measures.py), financial year and area
-- (an authority, a region E12..., or England E92000001), as published (a percentage 0-100).
CREATE TABLE {schema}.benchmark_figure (
    tenant    text NOT NULL,
    year      text NOT NULL,
    measure   text NOT NULL,
    area      text NOT NULL,
    value     double precision NOT NULL,
    PRIMARY KEY (tenant, year, measure, area)
);

-- Tenants that have opted in to live comparison (PUT /v1/benchmarks/live-comparison or
-- `qaloop benchmarks live-comparison on`): two tenants see each other's live KPI values
-- (small numbers suppressed) only when both have a row here.
CREATE TABLE {schema}.benchmark_live_opt_in (
    tenant       text PRIMARY KEY,
    opted_in_at  timestamptz NOT NULL DEFAULT now(),
    opted_in_by  text NOT NULL
);
