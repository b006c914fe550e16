from rag.cli import main

if __name__ == "__main__":  # a spawned worker process (rag.extract) imports this module as __mp_main__
    main()
