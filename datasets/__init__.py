"""Built-in datasets, one module per family; each registers loaders in `unlearnbench.data.loading.DATASETS`."""
