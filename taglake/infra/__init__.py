"""The AWS estate as CloudFormation (infra/): the generated stacks and `taglake infra render`."""
