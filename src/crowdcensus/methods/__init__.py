"""The three estimation methods: declared figures, web audience, task-posting experiment."""
