// Charts live in src/io/svg-chart.ts; experiments import them from here too.
export * from '../../src/io/svg-chart.ts';
