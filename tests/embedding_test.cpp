// placeholder: written by another helper
